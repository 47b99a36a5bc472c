package langdetect

import "math"

// pyRandom reproduces CPython's random.Random (MT19937) for the calls langdetect
// makes: seed(int), gauss(0, 1) and choice(list). langdetect's result on
// borderline text depends on this exact sequence when DetectorFactory.seed = 0.
type pyRandom struct {
	mt        [624]uint32
	index     int
	gaussNext float64
	hasGauss  bool
}

const mtN = 624

// twoPi is Python's random.TWOPI (2.0 * pi, exact in binary).
const twoPi = 2 * math.Pi

func (r *pyRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < mtN; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.index = mtN
}

// seed is random.seed(n) for a non-negative n below 2**32: CPython feeds the
// integer's 32-bit words to init_by_array (one zero word for 0).
func (r *pyRandom) seed(n uint32) {
	key := []uint32{n}
	r.initGenrand(19650218)
	i, j := 1, 0
	for k := max(mtN, len(key)); k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= mtN {
			r.mt[0] = r.mt[mtN-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k := mtN - 1; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			r.mt[0] = r.mt[mtN-1]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
	r.index = mtN
	r.hasGauss = false
}

func (r *pyRandom) uint32() uint32 {
	const upper, lower = 0x80000000, 0x7fffffff
	if r.index >= mtN {
		for k := 0; k < mtN; k++ {
			y := (r.mt[k] & upper) | (r.mt[(k+1)%mtN] & lower)
			v := r.mt[(k+397)%mtN] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[k] = v
		}
		r.index = 0
	}
	y := r.mt[r.index]
	r.index++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// random is random.random(): 53 random bits in [0, 1).
func (r *pyRandom) random() float64 {
	a := r.uint32() >> 5
	b := r.uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) * (1.0 / 9007199254740992.0)
}

// gauss is random.gauss(0, 1) (CPython 3.11: Box–Muller, caching the second value).
func (r *pyRandom) gauss() float64 {
	if r.hasGauss {
		r.hasGauss = false
		return r.gaussNext
	}
	x2pi := r.random() * twoPi
	g2rad := math.Sqrt(-2.0 * logExact(1.0-r.random()))
	sin, cos := sinCos(x2pi)
	r.gaussNext = sin * g2rad
	r.hasGauss = true
	return cos * g2rad
}

// below is random._randbelow(n) for 0 < n < 2**32: rejection sampling on
// getrandbits(n.bit_length()).
func (r *pyRandom) below(n int) int {
	k := 0
	for v := n; v > 0; v >>= 1 {
		k++
	}
	for {
		v := int(r.uint32() >> (32 - k))
		if v < n {
			return v
		}
	}
}
