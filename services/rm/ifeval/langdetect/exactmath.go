package langdetect

import (
	"math"
	"math/big"
)

// CPython's random.gauss calls the C library's cos, sin and log, which are
// (nearly always) correctly rounded; Go's math.Sin and math.Log can be a bit
// off, and one bit in gauss() can change langdetect's smoothing constant. These
// evaluate the functions to 160 bits with math/big and round once.

const exactPrec = 160

var (
	bigPi, _  = new(big.Float).SetPrec(exactPrec).SetString("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899")
	bigLn2, _ = new(big.Float).SetPrec(exactPrec).SetString("0.693147180559945309417232121458176568075500134360255254120680009493393621969694715")
	halfPi    = new(big.Float).SetPrec(exactPrec).Quo(bigPi, big.NewFloat(2))
	// epsilon ends a series once its terms no longer reach 2**-170.
	epsilon = new(big.Float).SetPrec(exactPrec).SetMantExp(big.NewFloat(1), -170)
)

func newExact(x float64) *big.Float { return new(big.Float).SetPrec(exactPrec).SetFloat64(x) }

// sinCos returns sin(x) and cos(x), each correctly rounded, for finite x in [0, 8).
func sinCos(x float64) (float64, float64) {
	bx := newExact(x)
	// k = round(x / (pi/2)); r = x - k*pi/2, so |r| <= pi/4.
	q, _ := new(big.Float).SetPrec(exactPrec).Quo(bx, halfPi).Float64()
	k := int64(math.Floor(q + 0.5))
	r := new(big.Float).SetPrec(exactPrec).Mul(halfPi, new(big.Float).SetInt64(k))
	r.Sub(bx, r)
	s, c := taylorSinCos(r)
	switch ((k % 4) + 4) % 4 {
	case 1:
		s, c = c, s.Neg(s)
	case 2:
		s, c = s.Neg(s), c.Neg(c)
	case 3:
		s, c = c.Neg(c), s
	}
	sf, _ := s.Float64()
	cf, _ := c.Float64()
	return sf, cf
}

// taylorSinCos sums the Taylor series of sin and cos at r.
func taylorSinCos(r *big.Float) (*big.Float, *big.Float) {
	r2 := new(big.Float).SetPrec(exactPrec).Mul(r, r)
	sin := new(big.Float).SetPrec(exactPrec).Set(r)
	cos := new(big.Float).SetPrec(exactPrec).SetInt64(1)
	sterm := new(big.Float).SetPrec(exactPrec).Set(r)
	cterm := new(big.Float).SetPrec(exactPrec).SetInt64(1)
	abs := new(big.Float).SetPrec(exactPrec)
	for n := int64(1); n < 60; n++ {
		// sterm *= -r²/((2n)(2n+1)); cterm *= -r²/((2n-1)(2n)).
		sterm.Mul(sterm, r2)
		sterm.Quo(sterm, new(big.Float).SetInt64(2*n*(2*n+1)))
		sterm.Neg(sterm)
		cterm.Mul(cterm, r2)
		cterm.Quo(cterm, new(big.Float).SetInt64((2*n-1)*(2*n)))
		cterm.Neg(cterm)
		sin.Add(sin, sterm)
		cos.Add(cos, cterm)
		if abs.Abs(cterm).Cmp(epsilon) < 0 && abs.Abs(sterm).Cmp(epsilon) < 0 {
			break
		}
	}
	return sin, cos
}

// logExact returns log(y), correctly rounded, for finite y > 0.
func logExact(y float64) float64 {
	frac, exp := math.Frexp(y) // y = frac * 2**exp, frac in [0.5, 1)
	m := newExact(frac)
	// log(m) = 2 atanh(z), z = (m-1)/(m+1) in [-1/3, 0).
	one := newExact(1)
	z := new(big.Float).SetPrec(exactPrec).Sub(m, one)
	z.Quo(z, new(big.Float).SetPrec(exactPrec).Add(m, one))
	z2 := new(big.Float).SetPrec(exactPrec).Mul(z, z)
	sum := new(big.Float).SetPrec(exactPrec).Set(z)
	power := new(big.Float).SetPrec(exactPrec).Set(z)
	term := new(big.Float).SetPrec(exactPrec)
	abs := new(big.Float).SetPrec(exactPrec)
	for k := int64(1); k < 200; k++ {
		power.Mul(power, z2)
		term.Quo(power, new(big.Float).SetInt64(2*k+1))
		sum.Add(sum, term)
		if abs.Abs(term).Cmp(epsilon) < 0 {
			break
		}
	}
	sum.Mul(sum, big.NewFloat(2))
	sum.Add(sum, new(big.Float).SetPrec(exactPrec).Mul(bigLn2, new(big.Float).SetInt64(int64(exp))))
	f, _ := sum.Float64()
	return f
}
