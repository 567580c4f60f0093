package oci

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		in   []string
		want []Challenge
	}{
		{[]string{`Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"`},
			[]Challenge{{Scheme: "Bearer", Params: p("realm", "https://auth.example/token", "service", "reg", "scope", "repository:a/b:pull,push")}}},
		{[]string{`Basic realm="x"`}, []Challenge{{Scheme: "Basic", Params: p("realm", "x")}}},
		{[]string{`bearer Realm=plain , service = "s\"q\\" ,, error="insufficient_scope"`},
			[]Challenge{{Scheme: "bearer", Params: p("realm", "plain", "service", `s"q\`, "error", "insufficient_scope")}}},
		{[]string{`Negotiate`}, []Challenge{{Scheme: "Negotiate", Params: p()}}},
		{[]string{`Negotiate YIIB+w/9==`}, []Challenge{{Scheme: "Negotiate", Params: p(), Token68: "YIIB+w/9=="}}},
		{[]string{`Basic realm="a, b=c", Bearer realm="r",scope="s1 s2"`, `Custom`},
			[]Challenge{{Scheme: "Basic", Params: p("realm", "a, b=c")}, {Scheme: "Bearer", Params: p("realm", "r", "scope", "s1 s2")}, {Scheme: "Custom", Params: p()}}},
		{[]string{`Basic, Negotiate abc=, Bearer realm=""`},
			[]Challenge{{Scheme: "Basic", Params: p()}, {Scheme: "Negotiate", Params: p(), Token68: "abc="}, {Scheme: "Bearer", Params: p("realm", "")}}},
		{[]string{`Bearer realm="first",realm="second"`}, []Challenge{{Scheme: "Bearer", Params: p("realm", "first")}}},
		{[]string{"\tBearer\trealm=\"r\"\t"}, []Challenge{{Scheme: "Bearer", Params: p("realm", "r")}}},
		{[]string{"", " , "}, nil},
		{[]string{`Bearer realm=`}, []Challenge{{Scheme: "Bearer", Params: p(), Token68: "realm="}}}, // a token68 with padding
	}
	for _, tt := range tests {
		got, err := ParseChallenges(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseChallenges(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}

	bad := []struct {
		in   string
		keep int // challenges returned before the error
	}{
		{`Bearer realm="unterminated`, 0},
		{`Bearer realm="r" service="s"`, 0},
		{`Basic realm="x", Bearer realm="a\`, 1},
		{`"quoted"`, 0},
		{`Bearer realm="a` + "\x01" + `"`, 0},
		{`Bearer realm="a\` + "\x00" + `"`, 0},
		{`Bearer/x realm="r"`, 0},
		{`Bearer realm="x",scope=`, 1},
		{`Basic realm="x", =y`, 1},
		{`Negotiate abc def`, 0},
	}
	for _, tt := range bad {
		got, err := ParseChallenges([]string{tt.in})
		if err == nil || len(got) != tt.keep || !strings.Contains(err.Error(), "offset") {
			t.Errorf("ParseChallenges(%q) = %+v, %v; want an error after %d challenges", tt.in, got, err, tt.keep)
		}
	}
}

func TestChallengeString(t *testing.T) {
	c := Challenge{Scheme: "Bearer", Params: map[string]string{"b": "2", "a": "1", "service": "reg", "realm": `https://r/token`, "scope": "repository:a:pull", "error": `x"y\z`}}
	want := `Bearer realm="https://r/token",service="reg",scope="repository:a:pull",error="x\"y\\z",a="1",b="2"`
	if got := c.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if got := (Challenge{Scheme: "Negotiate", Token68: "abc=="}).String(); got != "Negotiate abc==" {
		t.Errorf("token68: %s", got)
	}
	if !c.Is("bearer") || c.Is("basic") {
		t.Error("Is")
	}
}

// FuzzParseChallenges checks that ParseChallenges never panics, that what
// it parses formats back (String) to challenges that parse the same, and
// that an error keeps the challenges before it.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"`,
		`Basic realm="a, b=c", Bearer realm="r",error="invalid_token"`,
		`bearer Realm=plain , service = "s\"q\\" ,,`,
		`Negotiate YIIB+w/9==, Basic`,
		`Bearer realm="unterminated`,
		"Bearer realm=\"\x80\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, err := ParseChallenges([]string{h})
		for _, c := range got {
			if c.Params == nil || c.Scheme == "" {
				t.Fatalf("ParseChallenges(%q): %+v", h, c)
			}
		}
		if err != nil {
			return
		}
		var parts []string
		for _, c := range got {
			parts = append(parts, c.String())
		}
		again, err := ParseChallenges([]string{strings.Join(parts, ", ")})
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("ParseChallenges(%q) = %+v; formatted %q parses to %+v, %v", h, got, strings.Join(parts, ", "), again, err)
		}
	})
}
