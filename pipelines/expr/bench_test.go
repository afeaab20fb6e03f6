package expr

import "testing"

var benchCases = []struct{ name, src string }{
	{"EqInt", `/status == 200`},
	{"EqString", `/log_type == "apache"`},
	{"AndGE", `/log_type == "apache" and /status >= 400`},
	{"AndGETrue", `/log_type == "apache" and /status >= 200`},
	{"Regex", `/ip =~ "^10\\."`},
	{"RegexMatch", `/ip =~ "10\..*"`},
	{"InSet", `/status in {200, 202}`},
	{"InStrings", `/log_type in {"nginx", "iis", "apache"}`},
	{"NotIn", `/status not in {500, 502, 503}`},
	{"HasTags", `hasTags("x")`},
	{"Nested", `/kubernetes/namespace_name == "prod"`},
	{"Missing", `/missing == null`},
	{"Contains", `contains(/message, "index")`},
	{"Length", `length(/message) > 10`},
	{"Metadata", `getMetadata("source") == "s3"`},
	{"Complex", `(/status >= 400 or /latency > 1) and not hasTags("health") and /log_type in {"apache", "nginx"}`},
}

func BenchmarkEval(b *testing.B) {
	ev := sampleEvent()
	for _, bc := range benchCases {
		x := MustCompile(bc.src)
		if _, err := x.EvalBool(ev); err != nil {
			b.Fatalf("%s: %v", bc.src, err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.EvalBool(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEvalValue(b *testing.B) {
	ev := sampleEvent()
	x := MustCompile(`length(/message)`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Eval(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	src := `(/status >= 400 or /latency > 1) and not hasTags("health") and /log_type in {"apache", "nginx"} and /ip =~ "10\..*"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(src); err != nil {
			b.Fatal(err)
		}
	}
}
