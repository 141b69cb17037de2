package config

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// fuzzTarget has a field of every supported kind, under keys the seeds use.
type fuzzTarget struct {
	S   string   `prop:"a"`
	B   bool     `prop:"b"`
	I   int      `prop:"c"`
	I8  int8     `prop:"d"`
	I32 int32    `prop:"listenPort"`
	I64 int64    `prop:"brokerId"`
	F   float64  `prop:"f"`
	L   []string `prop:"namesrvAddr,sep=;"`
	N   struct {
		S string `prop:"brokerName"`
	}
}

// FuzzLoadApply: any input either parses or fails with ErrSyntax; Apply
// either succeeds or fails with ErrValue and leaves the target unchanged;
// and what Apply produced survives Print, Parse and Apply again.
func FuzzLoadApply(f *testing.F) {
	conf, err := os.ReadFile("testdata/broker.conf")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(conf),
		"a=1\nb=true\nc=-3\nd=127\nf=1.5e3\nnamesrvAddr=x;y",
		"a = \\u0041\\\n   b\r\nb:TRUE",
		"=\n:\n\\\n#\n!\\\n",
		"c=99999999999999999999\nb=yes\nd=128",
		"a=\\uD83D\\uDE00\\uDE00\\u12",
		"\xef\xbb\xbfa=caf\xe9",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse: %v does not wrap ErrSyntax", err)
			}
			return
		}
		target := fuzzTarget{S: "unchanged"}
		before := target
		if _, err := Apply(p, &target); err != nil {
			if !errors.Is(err, ErrValue) {
				t.Fatalf("Apply: %v does not wrap ErrValue", err)
			}
			if !reflect.DeepEqual(before, target) {
				t.Fatalf("Apply failed but changed the target: %+v", target)
			}
			return
		}
		var b bytes.Buffer
		if err := Print(&b, &target); err != nil {
			t.Fatal(err)
		}
		p2, err := Parse(b.Bytes(), "printed")
		if err != nil {
			t.Fatalf("printed output does not parse: %v\n%s", err, b.String())
		}
		var again fuzzTarget
		if _, err := Apply(p2, &again); err != nil {
			t.Fatalf("printed output does not apply: %v\n%s", err, b.String())
		}
		d1, _ := Dump(&target)
		d2, _ := Dump(&again)
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("round trip changed the options:\n%v\n%v", d1, d2)
		}
	})
}
