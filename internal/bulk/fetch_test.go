package bulk

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true}, {"2a00:1450:4009:81f::200e", true}, {"51.140.1.1", true},
		{"127.0.0.1", false}, {"::1", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"fc00::1", false}, {"0.0.0.0", false}, {"::", false},
		{"224.0.0.1", false}, {"100.64.0.1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:8.8.8.8", true},
	} {
		if got := publicAddr(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("publicAddr(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

func TestAllowsURL(t *testing.T) {
	allowed, err := parseOrigins([]string{"http://127.0.0.1", "https://10.0.0.5:8443", "http://[fd00::7]", "http://[::1]:8080"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://old-supplier.example.com/export/Patient.ndjson", true}, // a name: checked when dialled
		{"https://51.140.1.1/p", true},
		{"http://127.0.0.1:9999/p", true}, // allowed host, any port
		{"https://10.0.0.5:8443/p", true},
		{"https://10.0.0.5/p", false}, // allowed on 8443 only
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://localhost/p", false},
		{"http://[::1]/p", false},
		{"http://192.168.0.10/p", false},
		{"http://[fd00::7]:9000/p", true}, // IPv6, any port
		{"http://[::1]:8080/p", true},
		{"http://[::1]:8081/p", false},
	} {
		u, _ := url.Parse(tt.url)
		if got := allowed.allowsURL(u); got != tt.want {
			t.Errorf("allowsURL(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
	for _, bad := range []string{"10.0.0.5", "ftp://10.0.0.5", "http://"} {
		if CheckImportFrom([]string{bad}) == nil {
			t.Errorf("CheckImportFrom(%q) = nil, want an error", bad)
		}
	}
}

// TestGuardedClient checks the address dialled, so a name that resolves
// to a private address is refused as an address would be.
func TestGuardedClient(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}\n")) }))
	defer hs.Close()
	u, _ := url.Parse(hs.URL)
	byName := "http://localhost:" + u.Port() + "/p" // resolves to loopback
	for _, target := range []string{hs.URL, byName} {
		_, err := fetchClient(origins{}, false).Get(target)
		if !errors.Is(err, errPrivate) {
			t.Errorf("GET %s with nothing allowed = %v, want it refused as private", target, err)
		}
	}
	resp, err := fetchClient(origins{"127.0.0.1": true}, false).Get(hs.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s with 127.0.0.1 allowed = %v, %v", hs.URL, resp, err)
	}
	resp.Body.Close()
}
