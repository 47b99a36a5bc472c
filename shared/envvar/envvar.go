// Package envvar reads a service's settings from REWARDMESH_* environment
// variables, the way every service's ConfigFromEnv does: an unset or empty
// variable leaves the setting's default, and a value that does not parse is an
// error naming the variable, never a silent 0.
package envvar

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Reader reads variables through getenv and keeps every refusal, so that one
// start reports all the bad values at once.
type Reader struct {
	getenv func(string) string
	errs   []error
}

// NewReader reads through getenv (os.Getenv, or a test's map).
func NewReader(getenv func(string) string) *Reader {
	return &Reader{getenv: getenv}
}

// Refuse records value as bad for name, saying what is wanted: for the rules
// a caller checks itself.
func (r *Reader) Refuse(name, value, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}

// Fail records an error that is not one value's, such as two settings that do
// not go together.
func (r *Reader) Fail(err error) { r.errs = append(r.errs, err) }

// Err is every refusal so far, joined; nil when every value was good.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// String sets *dst to the variable's value when it is set.
func (r *Reader) String(name string, dst *string) {
	if v := r.getenv(name); v != "" {
		*dst = v
	}
}

// Int sets *dst to the variable's whole number, which must be at least least.
func (r *Reader) Int(name string, least int, dst *int) {
	read(r, name, dst, fmt.Sprintf("a whole number, at least %d", least), func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= least
	})
}

// Float sets *dst to the variable's number, finite and at least least.
func (r *Reader) Float(name string, least float64, dst *float64) {
	read(r, name, dst, fmt.Sprintf("a number, at least %g", least), func(v string) (float64, bool) {
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && !math.IsInf(f, 0) && f >= least // NaN is not >= anything
	})
}

// Duration sets *dst to the variable's duration: Go's form (30s, 1m30s) or
// whole seconds, never negative (0 leaves the service its default).
func (r *Reader) Duration(name string, dst *time.Duration) {
	read(r, name, dst, "a duration such as 30s, not negative", func(v string) (time.Duration, bool) {
		if d, err := time.ParseDuration(v); err == nil {
			return d, d >= 0
		}
		secs, err := strconv.ParseInt(v, 10, 64)
		return time.Duration(secs) * time.Second, err == nil && secs >= 0 && secs <= math.MaxInt64/int64(time.Second)
	})
}

// Bool sets *dst to the variable's truth: 1, t, true, 0, f, false (any case
// strconv.ParseBool takes).
func (r *Reader) Bool(name string, dst *bool) {
	read(r, name, dst, "true or false (1 or 0)", func(v string) (bool, bool) {
		b, err := strconv.ParseBool(v)
		return b, err == nil
	})
}

// read sets *dst to the variable's value as parse reads it, when it is set;
// a value parse does not take is refused, saying what is wanted.
func read[T any](r *Reader, name string, dst *T, want string, parse func(string) (T, bool)) {
	v := r.getenv(name)
	if v == "" {
		return
	}
	x, ok := parse(v)
	if !ok {
		r.Refuse(name, v, want)
		return
	}
	*dst = x
}
