package sandbox

import (
	"strings"
	"testing"
)

func TestJavaClasses(t *testing.T) {
	cases := []struct {
		name, source, file, main string
	}{
		{"public class", "public class Solution { public static void main(String[] a) {} }", "Solution.java", "Solution"},
		{"no public class", "class A { public static void main(String[] a) {} }", "A.java", "A"},
		{"nothing", "", "Main.java", "Main"},
		{"public class is not the first", "import java.util.*;\nclass Helper { int x; }\npublic final class Sol {\n  public static void main(String[] args) {}\n}", "Sol.java", "Sol"},
		{"main in a non-public class", "class Runner { public static void main(String[] a) {} }\npublic class Lib {}", "Lib.java", "Runner"},
		{"comments and strings hide classes", "// public class Fake {}\n/* public class Fake2 { void main( */\npublic class Real { String s = \"public class Str {\"; char c = '{'; static void main(String[] a){} }", "Real.java", "Real"},
		{"text block", "public class T { String s = \"\"\"\n  public class Inner { }\n  \"\"\"; public static void main(String[] a) {} }", "T.java", "T"},
		{"nested classes are not top level", "public class Outer { static class Main { public static void main(String[] a) {} } }", "Outer.java", "Outer"},
		{"package", "package contest.a;\nimport java.io.*;\npublic class Main { public static void main(String[] a) {} }", "Main.java", "contest.a.Main"},
		{"annotations and generics", "@SuppressWarnings(\"unchecked\")\npublic class Box<T extends Comparable<T>> { public static void main(String... a) {} }", "Box.java", "Box"},
		{"record and enum", "enum Color { RED }\npublic record Point(int x, int y) { public static void main(String[] a) {} }", "Point.java", "Point"},
		{"unicode name", "public class Ünïcode { public static void main(String[] a) {} }", "Ünïcode.java", "Ünïcode"},
		{"interface with main", "public interface I { static void main(String[] a) {} }", "I.java", "I"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := javaClasses(tc.source)
			if got.file != tc.file || got.main != tc.main {
				t.Fatalf("javaClasses = %+v, want file %q main %q", got, tc.file, tc.main)
			}
		})
	}
}

// A source of any shape names a file that stays in the working directory and
// a main class javac and java accept as a name.
func FuzzJavaClasses(f *testing.F) {
	f.Add("public class Solution { public static void main(String[] a) {} }")
	f.Add("package a.b; class X {}")
	f.Add("/* unterminated")
	f.Add("\"\"\" unterminated text block")
	f.Add("public class ../../etc { }")
	f.Add("'\\")
	f.Fuzz(func(t *testing.T, source string) {
		p := javaClasses(source)
		name, ok := strings.CutSuffix(p.file, ".java")
		if !ok || !isJavaIdentifier(name) || len(name) > maxJavaName {
			t.Fatalf("file %q is not a class name and .java", p.file)
		}
		if _, err := workPath(p.file); err != nil || strings.Contains(p.file, "/") {
			t.Fatalf("file %q: %v", p.file, err)
		}
		for _, part := range strings.Split(p.main, ".") {
			if !isJavaIdentifier(part) {
				t.Fatalf("main %q has a part %q that is not an identifier", p.main, part)
			}
		}
	})
}
