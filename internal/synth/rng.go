package synth

import "math/bits"

// rng is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014). It is ours rather than math/rand's so
// that a seed gives the same patients on every Go release, and it is seeded
// from (seed, patient index, stream) so that patient i never depends on
// patient i-1: generation can be sharded, resumed and run in parallel.
//
// Floating point stays simple on purpose: no math.Exp or math.Log, whose
// last bit may differ between architectures, and an explicit float64
// conversion wherever a multiply feeds an add, which stops the compiler
// fusing them into an FMA on arm64 (https://go.dev/ref/spec#Arithmetic_operators).
type rng struct{ s uint64 }

// Streams keep independent parts of a patient independent: changing the
// history length must not change their name.
const (
	streamPerson uint64 = iota + 1
	streamHistory
	streamShared
)

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func newRNG(seed, index, stream uint64) rng {
	return rng{s: mix64(mix64(seed^0x6a09e667f3bcc908)+index) ^ mix64(stream*0x9e3779b97f4a7c15)}
}

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a number in [0, n); n > 0. The multiply-high mapping has a
// bias below 2^-40 for the small n used here.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// uniform returns a number in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + float64((hi-lo)*r.float()) }

// normal approximates a normal deviate by the Irwin-Hall sum of four
// uniforms, which is smooth enough for clinical noise and bounded to
// mean ± 3.46 sd, so no value is absurd.
func (r *rng) normal(mean, sd float64) float64 {
	z := (r.float() + r.float() + r.float() + r.float() - 2) * 1.7320508075688772
	return mean + float64(sd*z)
}

// pick returns an index chosen with the given weights.
func (r *rng) pick(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := float64(r.float() * total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// one returns a random element of xs.
func one[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

func clamp(x, lo, hi float64) float64 { return max(lo, min(hi, x)) }
