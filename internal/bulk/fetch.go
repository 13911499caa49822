package bulk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// An $import makes the server fetch URLs its client names. Left open, a
// client could have it read what only the server can reach: a cloud
// metadata service (169.254.169.254), an admin port on loopback, another
// system on the private network. So the server fetches from public
// addresses only, checked on the address actually dialled (after DNS, so
// a name that resolves to a private address is refused too), except from
// the origins the operator allows (Options.ImportFrom).

// errPrivate is a fetch refused because of where it would connect.
var errPrivate = errors.New("not a public address; the server's operator can allow it with -import-from")

// publicAddr reports whether ip may be fetched from without allowance.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return false
	case sharedAddressSpace.Contains(ip): // carrier-grade NAT, used inside some clouds
		return false
	}
	return true
}

var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// origins is the set of allowed hosts, keyed as net.SplitHostPort gives
// them ("::1", not "[::1]") with their port ("10.0.0.5:8443"), or alone to
// allow every port. The scheme is not compared: the check is on where the
// server connects.
type origins map[string]bool

func parseOrigins(list []string) (origins, error) {
	o := origins{}
	for _, s := range list {
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("import origin %q: want http(s)://host[:port]", s)
		}
		key := u.Hostname()
		if u.Port() != "" {
			key = net.JoinHostPort(key, u.Port())
		}
		o[key] = true
	}
	return o, nil
}

// allows reports whether the host:port a URL names (addr) is allowed.
func (o origins) allows(addr string) bool {
	if o[addr] {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	return err == nil && o[host]
}

// allowsURL reports whether u may be fetched as far as can be told before
// dialling: an allowed origin, a host name (checked when dialled), or a
// public address.
func (o origins) allowsURL(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if o.allows(net.JoinHostPort(u.Hostname(), port)) {
		return true
	}
	if u.Hostname() == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err != nil || publicAddr(ip)
}

// fetchClient fetches import inputs: from anywhere (through the
// environment's proxy) for the operator's command line, else from public
// addresses and allowed origins only. It follows no redirects, and its
// transport bounds each step of a fetch but not the whole (an input may
// take long to read).
func fetchClient(allowed origins, anywhere bool) *http.Client {
	tr := &http.Transport{
		ResponseHeaderTimeout: time.Minute,
		IdleConnTimeout:       time.Minute,
		TLSHandshakeTimeout:   10 * time.Second,
	}
	if anywhere {
		tr.Proxy = http.ProxyFromEnvironment
	} else {
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		guarded := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
			Control: func(network, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil || !publicAddr(ap.Addr()) {
					return fmt.Errorf("import input at %s: %w", address, errPrivate)
				}
				return nil
			}}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if allowed.allows(addr) {
				return dialer.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
