package synth

import (
	"crypto/sha1"
	"strconv"
)

// namespace is the UUID namespace of every id this package makes; ids are
// name-based version 5 UUIDs (RFC 9562 §5.5) within it.
var namespace = [16]byte{0x6f, 0x1c, 0x2e, 0x8a, 0x4b, 0x3d, 0x5e, 0x0f, 0x9a, 0x71, 0xc2, 0x4e, 0x83, 0x15, 0xd6, 0x27}

// uuid5 returns the version 5 UUID of name in namespace, in its 36
// character text form.
func uuid5(name []byte) string {
	var buf [16 + 96]byte
	b := append(buf[:0], namespace[:]...)
	b = append(b, name...)
	sum := sha1.Sum(b)
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i := range 16 {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexDigits[sum[i]>>4]
		out[j+1] = hexDigits[sum[i]&0xf]
		j += 2
	}
	return string(out[:])
}

const hexDigits = "0123456789abcdef"

// patientResourceID is the id of the n-th resource of type typ about
// patient index under seed: "seed/index/type/n" hashed.
func patientResourceID(seed uint64, index int, typ string, n int) string {
	var buf [96]byte
	b := strconv.AppendUint(buf[:0], seed, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, '/')
	b = append(b, typ...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(n), 10)
	return uuid5(b)
}

// sharedID is the id of a shared resource (a practice, a trust, their
// staff), named by a key that does not involve the seed, so populations
// generated with different seeds share their organisations.
func sharedID(typ, key string) string {
	var buf [96]byte
	b := append(buf[:0], "shared/"...)
	b = append(b, typ...)
	b = append(b, '/')
	b = append(b, key...)
	return uuid5(b)
}
