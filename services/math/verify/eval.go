package verify

import (
	"errors"
	"hash/fnv"
	"math"
	"math/big"
	"math/cmplx"
)

var errNotNumeric = errors.New("not a number")

// maxExactBits bounds the size of exact intermediate results; past it the
// evaluation goes numeric (10^100000 is still compared, just not exactly).
const maxExactBits = 1 << 14

// evalRat evaluates n exactly when it is a rational number: numbers joined by
// + - × ÷, integer powers, percentages, square roots of perfect squares and
// small factorials.
func evalRat(n *node, b *budget) (*big.Rat, bool) {
	if b.step(1) != nil {
		return nil, false
	}
	switch n.k {
	case kNum:
		return n.num, true
	case kNeg:
		x, ok := evalRat(n.args[0], b)
		if !ok {
			return nil, false
		}
		return new(big.Rat).Neg(x), true
	case kPercent:
		x, ok := evalRat(n.args[0], b)
		if !ok {
			return nil, false
		}
		return new(big.Rat).Quo(x, big.NewRat(100, 1)), true
	case kAdd, kMul:
		acc := new(big.Rat)
		if n.k == kMul {
			acc.SetInt64(1)
		}
		for _, a := range n.args {
			x, ok := evalRat(a, b)
			if !ok {
				return nil, false
			}
			if n.k == kAdd {
				acc.Add(acc, x)
			} else {
				acc.Mul(acc, x)
			}
			if ratBits(acc) > maxExactBits {
				return nil, false
			}
		}
		return acc, true
	case kDiv:
		x, ok := evalRat(n.args[0], b)
		if !ok {
			return nil, false
		}
		y, ok := evalRat(n.args[1], b)
		if !ok || y.Sign() == 0 {
			return nil, false
		}
		return new(big.Rat).Quo(x, y), true
	case kPow:
		x, ok := evalRat(n.args[0], b)
		if !ok {
			return nil, false
		}
		y, ok := evalRat(n.args[1], b)
		if !ok || !y.IsInt() || !y.Num().IsInt64() {
			return nil, false
		}
		e := y.Num().Int64()
		if x.Sign() == 0 {
			if e <= 0 {
				return nil, false
			}
			return new(big.Rat), true
		}
		if e < 0 {
			x = new(big.Rat).Inv(x)
			e = -e
		}
		if int64(ratBits(x))*e > maxExactBits || e > maxExactBits {
			return nil, false
		}
		if b.step(int(e/64)) != nil {
			return nil, false
		}
		num := new(big.Int).Exp(x.Num(), big.NewInt(e), nil)
		den := new(big.Int).Exp(x.Denom(), big.NewInt(e), nil)
		return new(big.Rat).SetFrac(num, den), true
	case kFunc:
		switch n.name {
		case "sqrt":
			x, ok := evalRat(n.args[0], b)
			if !ok || x.Sign() < 0 {
				return nil, false
			}
			num, den := new(big.Int).Sqrt(x.Num()), new(big.Int).Sqrt(x.Denom())
			r := new(big.Rat).SetFrac(num, den)
			if new(big.Rat).Mul(r, r).Cmp(x) != 0 {
				return nil, false
			}
			return r, true
		case "fact":
			x, ok := evalRat(n.args[0], b)
			if !ok || !x.IsInt() || x.Sign() < 0 || x.Num().Cmp(big.NewInt(1000)) > 0 {
				return nil, false
			}
			k := x.Num().Int64()
			if b.step(int(k)) != nil {
				return nil, false
			}
			return new(big.Rat).SetInt(new(big.Int).MulRange(1, k)), true
		case "abs":
			x, ok := evalRat(n.args[0], b)
			if !ok {
				return nil, false
			}
			return new(big.Rat).Abs(x), true
		case "binom":
			x, ok1 := evalRat(n.args[0], b)
			y, ok2 := evalRat(n.args[1], b)
			if !ok1 || !ok2 || !x.IsInt() || !y.IsInt() || x.Num().Cmp(big.NewInt(10000)) > 0 || x.Sign() < 0 || y.Sign() < 0 || !y.Num().IsInt64() {
				return nil, false
			}
			return new(big.Rat).SetInt(new(big.Int).Binomial(x.Num().Int64(), y.Num().Int64())), true
		}
	}
	return nil, false
}

func ratBits(r *big.Rat) int { return r.Num().BitLen() + r.Denom().BitLen() }

// env assigns values to variables for a numeric evaluation.
type env map[string]complex128

// evalC evaluates n numerically. scale bounds the magnitude of the largest
// intermediate, so that a result near zero after cancellation (√2−√2) can be
// told from a genuinely tiny value (2^-99).
func evalC(n *node, e env, b *budget) (v complex128, scale float64, err error) {
	if err := b.step(1); err != nil {
		return 0, 0, err
	}
	switch n.k {
	case kNum:
		f, _ := n.num.Float64()
		return complex(f, 0), math.Abs(f), nil
	case kConst:
		switch n.name {
		case "pi":
			return math.Pi, math.Pi, nil
		case "e":
			return math.E, math.E, nil
		case "i":
			return 1i, 1, nil
		}
		return 0, 0, errNotNumeric
	case kSym:
		if v, ok := e[n.name]; ok {
			return v, cmplx.Abs(v), nil
		}
		return 0, 0, errNotNumeric
	case kNeg:
		v, s, err := evalC(n.args[0], e, b)
		return -v, s, err
	case kPercent:
		v, s, err := evalC(n.args[0], e, b)
		return v / 100, s / 100, err
	case kAdd:
		var sum complex128
		var scale float64
		for _, a := range n.args {
			v, s, err := evalC(a, e, b)
			if err != nil {
				return 0, 0, err
			}
			sum += v
			scale = math.Max(scale, s)
		}
		return sum, math.Max(scale, cmplx.Abs(sum)), nil
	case kMul:
		prod, scale := complex(1, 0), 1.0
		for _, a := range n.args {
			v, s, err := evalC(a, e, b)
			if err != nil {
				return 0, 0, err
			}
			prod *= v
			scale *= s
		}
		return prod, scale, nil
	case kDiv:
		x, sx, err := evalC(n.args[0], e, b)
		if err != nil {
			return 0, 0, err
		}
		y, sy, err := evalC(n.args[1], e, b)
		if err != nil {
			return 0, 0, err
		}
		ay := cmplx.Abs(y)
		if ay == 0 || ay < 1e-12*sy {
			return 0, 0, errNotNumeric // division by zero, or by a cancellation
		}
		return x / y, sx/ay + cmplx.Abs(x)*sy/(ay*ay), nil
	case kPow:
		x, sx, err := evalC(n.args[0], e, b)
		if err != nil {
			return 0, 0, err
		}
		y, _, err := evalC(n.args[1], e, b)
		if err != nil {
			return 0, 0, err
		}
		var r complex128
		if imag(y) == 0 && real(y) == math.Trunc(real(y)) && math.Abs(real(y)) <= 64 {
			r = intPow(x, int(real(y)))
		} else if imag(x) == 0 && real(x) < 0 && imag(y) == 0 && isOddRoot(real(y)) {
			r = complex(math.Pow(-real(x), real(y)), 0) // ∛(-8) = -2, as written
			if int(math.Round(real(y)*oddDenominator(real(y))))%2 != 0 {
				r = -r
			}
		} else {
			if x == 0 {
				if real(y) > 0 {
					return 0, 0, nil
				}
				return 0, 0, errNotNumeric
			}
			r = cmplx.Pow(x, y)
		}
		if imag(y) == 0 && sx > 0 {
			return r, math.Max(cmplx.Abs(r), math.Pow(sx, real(y))), nil
		}
		return r, cmplx.Abs(r), nil
	case kFunc:
		return evalFunc(n, e, b)
	case kSum, kProd:
		return evalBigOp(n, e, b)
	}
	return 0, 0, errNotNumeric
}

// isOddRoot reports whether y is 1/k or j/k in lowest terms with k odd, where
// the real root of a negative base is what a reader means.
func isOddRoot(y float64) bool {
	for k := 1; k <= 15; k += 2 {
		j := y * float64(k)
		if math.Abs(j-math.Round(j)) < 1e-12 {
			return true
		}
	}
	return false
}

func oddDenominator(y float64) float64 {
	for k := 1; k <= 15; k += 2 {
		j := y * float64(k)
		if math.Abs(j-math.Round(j)) < 1e-12 {
			return float64(k)
		}
	}
	return 1
}

func intPow(x complex128, k int) complex128 {
	if k < 0 {
		return 1 / intPow(x, -k)
	}
	r := complex(1, 0)
	for ; k > 0; k >>= 1 {
		if k&1 == 1 {
			r *= x
		}
		x *= x
	}
	return r
}

func evalFunc(n *node, e env, b *budget) (complex128, float64, error) {
	args := make([]complex128, len(n.args))
	scale := 0.0
	for i, a := range n.args {
		v, s, err := evalC(a, e, b)
		if err != nil {
			return 0, 0, err
		}
		args[i] = v
		scale = math.Max(scale, s)
	}
	x := args[0]
	var r complex128
	switch n.name {
	case "sin":
		r = cmplx.Sin(x)
	case "cos":
		r = cmplx.Cos(x)
	case "tan":
		r = cmplx.Tan(x)
	case "cot":
		r = 1 / cmplx.Tan(x)
	case "sec":
		r = 1 / cmplx.Cos(x)
	case "csc":
		r = 1 / cmplx.Sin(x)
	case "asin":
		r = cmplx.Asin(x)
	case "acos":
		r = cmplx.Acos(x)
	case "atan":
		r = cmplx.Atan(x)
	case "acot":
		r = cmplx.Atan(1 / x)
	case "sinh":
		r = cmplx.Sinh(x)
	case "cosh":
		r = cmplx.Cosh(x)
	case "tanh":
		r = cmplx.Tanh(x)
	case "ln", "log":
		if x == 0 {
			return 0, 0, errNotNumeric
		}
		r = cmplx.Log(x)
	case "log10":
		r = cmplx.Log10(x)
	case "exp":
		r = cmplx.Exp(x)
		return r, cmplx.Abs(r) * math.Max(1, scale), nil
	case "sqrt":
		r = cmplx.Sqrt(x)
		return r, math.Sqrt(scale), nil
	case "abs":
		r = complex(cmplx.Abs(x), 0)
		return r, scale, nil
	case "fact":
		if imag(x) != 0 || real(x) < 0 || real(x) > 170 {
			return 0, 0, errNotNumeric
		}
		r = complex(math.Gamma(real(x)+1), 0)
	case "binom":
		if len(args) != 2 || imag(x) != 0 || imag(args[1]) != 0 {
			return 0, 0, errNotNumeric
		}
		lg := func(v float64) float64 { l, _ := math.Lgamma(v + 1); return l }
		r = complex(math.Round(math.Exp(lg(real(x))-lg(real(args[1]))-lg(real(x)-real(args[1])))), 0)
	case "floor", "ceil":
		if imag(x) != 0 {
			return 0, 0, errNotNumeric
		}
		if n.name == "floor" {
			r = complex(math.Floor(real(x)+1e-12), 0)
		} else {
			r = complex(math.Ceil(real(x)-1e-12), 0)
		}
	case "max", "min":
		best := real(args[0])
		for _, a := range args {
			if imag(a) != 0 {
				return 0, 0, errNotNumeric
			}
			if n.name == "max" && real(a) > best || n.name == "min" && real(a) < best {
				best = real(a)
			}
		}
		r = complex(best, 0)
	case "re", "im":
		if n.name == "re" {
			r = complex(real(x), 0)
		} else {
			r = complex(imag(x), 0)
		}
	default:
		if len(n.name) > 6 || n.name == "det" || n.name == "prime" || n.name == "gcd" || n.name == "lcm" || n.name == "arg" {
			return 0, 0, errNotNumeric
		}
		r = undefinedFunc(n.name, args)
	}
	if cmplx.IsNaN(r) || cmplx.IsInf(r) {
		return 0, 0, errNotNumeric
	}
	return r, math.Max(cmplx.Abs(r), 1e-300), nil
}

// undefinedFunc gives f(x) a value: a smooth function fixed by f's name, so
// f(x) = f(x) and f(2) ≠ f(3) with near certainty, for any f.
func undefinedFunc(name string, args []complex128) complex128 {
	h := fnv.New64a()
	h.Write([]byte(name))
	seed := h.Sum64()
	r := complex(float64(seed%97)/97+0.5, 0)
	for i, a := range args {
		k := float64((seed>>(8*uint(i%8)))%13+3) / 7
		r += cmplx.Sin(complex(k, 0)*a+complex(float64(i)+0.3, 0)) + a*complex(0.37+float64(i)*0.11, 0)
	}
	return r
}

// evalBigOp sums or multiplies a body over an integer range of at most 10,000
// terms; a symbolic bound is not a number.
func evalBigOp(n *node, e env, b *budget) (complex128, float64, error) {
	lo, _, err := evalC(n.args[0], e, b)
	if err != nil {
		return 0, 0, err
	}
	hi, _, err := evalC(n.args[1], e, b)
	if err != nil {
		return 0, 0, err
	}
	if imag(lo) != 0 || imag(hi) != 0 || real(lo) != math.Trunc(real(lo)) || real(hi) != math.Trunc(real(hi)) || real(hi)-real(lo) > 10000 {
		return 0, 0, errNotNumeric
	}
	inner := make(env, len(e)+1)
	for k, v := range e {
		inner[k] = v
	}
	acc, scale := complex(0, 0), 0.0
	if n.k == kProd {
		acc, scale = 1, 1
	}
	for i := real(lo); i <= real(hi); i++ {
		inner[n.name] = complex(i, 0)
		v, s, err := evalC(n.args[2], inner, b)
		if err != nil {
			return 0, 0, err
		}
		if n.k == kSum {
			acc += v
			scale = math.Max(scale, s)
		} else {
			acc *= v
			scale *= s
		}
	}
	return acc, math.Max(scale, cmplx.Abs(acc)), nil
}
