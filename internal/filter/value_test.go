package filter

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// The conversions a property goes through when it meets a number: Java's
// Integer.parseInt, Long.parseLong and Double.parseDouble.

func TestParseJavaInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bits int
		want int64
		ok   bool
	}{
		{"0", 32, 0, true},
		{"42", 32, 42, true},
		{"+42", 32, 42, true},
		{"-42", 32, -42, true},
		{"007", 32, 7, true},
		{"2147483647", 32, math.MaxInt32, true},
		{"-2147483648", 32, math.MinInt32, true},
		{"2147483648", 32, 0, false},
		{"-2147483649", 32, 0, false},
		{"2147483648", 64, 2147483648, true},
		{"9223372036854775807", 64, math.MaxInt64, true},
		{"-9223372036854775808", 64, math.MinInt64, true},
		{"9223372036854775808", 64, 0, false},
		{"99999999999999999999999", 64, 0, false},
		{"", 32, 0, false},
		{"+", 32, 0, false},
		{"-", 32, 0, false},
		{"--1", 32, 0, false},
		{" 1", 32, 0, false},
		{"1 ", 32, 0, false},
		{"1.0", 32, 0, false},
		{"1e3", 32, 0, false},
		{"1_000", 32, 0, false},
		{"0x10", 32, 0, false},
		{"١", 32, 0, false}, // Java would take the Arabic-Indic digit; see doc.go
	} {
		got, ok := parseJavaInt(tc.in, tc.bits)
		require.Equal(t, tc.ok, ok, "%q (%d bits)", tc.in, tc.bits)
		if ok {
			require.Equal(t, tc.want, got, "%q (%d bits)", tc.in, tc.bits)
		}
	}
}

func TestParseJavaDouble(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1", 1, true},
		{"1.5", 1.5, true},
		{"-1.5", -1.5, true},
		{"+.5", 0.5, true},
		{"5.", 5, true},
		{"1e3", 1000, true},
		{"1E-3", 0.001, true},
		{"1.5e+3", 1500, true},
		{"  2.5\t\n", 2.5, true}, // Java trims everything up to ' '
		{"\x002.5\x1f", 2.5, true},
		{"2.5f", 2.5, true},
		{"2.5D", 2.5, true},
		{"0x1p3", 8, true},
		{"0X1.8P1", 3, true},
		{"0x.8p1d", 1, true},
		{"-0x1p-2", -0.25, true},
		{"Infinity", math.Inf(1), true},
		{"-Infinity", math.Inf(-1), true},
		{"1e400", math.Inf(1), true},
		{"-1e400", math.Inf(-1), true},
		{"1e-400", 0, true},
		{"", 0, false},
		{".", 0, false},
		{"e3", 0, false},
		{"1e", 0, false},
		{"1e+", 0, false},
		{"1.5ff", 0, false},
		{"f", 0, false},
		{"inf", 0, false},
		{"Inf", 0, false},
		{"infinity", 0, false},
		{"nan", 0, false},
		{"1_0", 0, false},
		{"0x1", 0, false}, // Java requires the binary exponent
		{"0xp1", 0, false},
		{"0x1p", 0, false},
		{"1 2", 0, false},
		{"١", 0, false},
		{"\u00a02.5", 0, false}, // a no-break space is above ' '
	} {
		got, ok := parseJavaDouble(tc.in)
		require.Equal(t, tc.ok, ok, "%q", tc.in)
		if ok {
			require.Equal(t, tc.want, got, "%q", tc.in)
		}
	}
	got, ok := parseJavaDouble("NaN")
	require.True(t, ok)
	require.True(t, math.IsNaN(got))
	got, ok = parseJavaDouble("-0.0")
	require.True(t, ok)
	require.True(t, math.Signbit(got), "-0.0 keeps its sign")
}

func TestCompareDoubleIsJavaOrder(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	negZero := math.Copysign(0, -1)
	ordered := []float64{math.Inf(-1), -1, negZero, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, inf, nan}
	for i, a := range ordered {
		for j, b := range ordered {
			want := cmpInt(int64(i), int64(j))
			require.Equal(t, want, compareDouble(a, b), "compare(%v, %v)", a, b)
		}
	}
	require.Equal(t, 0, compareDouble(nan, -nan), "every NaN is the same NaN")
}

func TestLiteralRoundTrip(t *testing.T) {
	for _, v := range []value{
		{kind: kInt, n: 0}, {kind: kInt, n: math.MaxInt32},
		{kind: kLong, n: math.MaxInt32 + 1}, {kind: kLong, n: math.MaxInt64},
		{kind: kDouble, f: 0}, {kind: kDouble, f: 1}, {kind: kDouble, f: 100},
		{kind: kDouble, f: 1e21}, {kind: kDouble, f: 1.5e-7}, {kind: kDouble, f: math.MaxFloat64},
		{kind: kDouble, f: math.SmallestNonzeroFloat64},
		{kind: kString, s: ""}, {kind: kString, s: "'"}, {kind: kString, s: "a''b\nc"},
		vTrue, vFalse, vNull,
	} {
		e, err := Compile("a = " + v.literal())
		if v.kind == kNull {
			require.Error(t, err) // NULL cannot be compared with =
			continue
		}
		require.NoError(t, err, v.literal())
		require.Equal(t, v, e.root.kids[1].lit, v.literal())
	}
}
