package repo_test

import (
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestREADMEGoAPI keeps the Go code of the README's "Go API" section true:
// a block that starts with "import" may name only imports of
// example_test.go, and every other block must be, in order, the code
// between a "// readme:start" and a "// readme:end" line of
// example_test.go (less one tab of indentation), inside an example with
// an Output comment, which `go test` compiles and runs. So a README
// example that does not compile, or does other than its example, fails
// here.
func TestREADMEGoAPI(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const exampleFile = "example_test.go"
	src, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(t, markdownSection(t, string(readme), "## Go API"))
	regions := readmeRegions(t, exampleFile, src)

	fset := token.NewFileSet()
	ef, err := parser.ParseFile(fset, exampleFile, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		if !inRunnableExample(fset, ef, r.line) {
			t.Errorf("%s:%d: this readme:start is not inside an Example function with an Output comment, so `go test` does not run it", exampleFile, r.line)
		}
	}

	var code []goBlock
	for _, b := range blocks {
		if strings.HasPrefix(b.text, "import") {
			checkImports(t, b, ef)
		} else {
			code = append(code, b)
		}
	}
	for i := 0; i < len(code) || i < len(regions); i++ {
		switch {
		case i >= len(regions):
			t.Errorf("README.md:%d: a Go block of the Go API section that no readme:start … readme:end region of %s holds; add the code to an example there", code[i].line, exampleFile)
		case i >= len(code):
			t.Errorf("%s:%d: region %d has no Go block in the README's Go API section to match", exampleFile, regions[i].line, i+1)
		case code[i].text != regions[i].text:
			t.Errorf("README.md:%d and %s:%d differ: %s", code[i].line, exampleFile, regions[i].line, firstDifference(code[i].text, regions[i].text))
		}
	}
}

// goBlock is a fenced ```go block of the README, or a readme region of
// example_test.go, with the line (1-based) where its code starts.
type goBlock struct {
	text string
	line int
}

// markdownSection returns the lines of md from the heading line through
// the line before the next heading of the same level, with the number of
// the heading's line.
func markdownSection(t *testing.T, md, heading string) goBlock {
	t.Helper()
	lines := strings.Split(md, "\n")
	level := heading[:strings.IndexByte(heading, ' ')+1] // "## "
	start := -1
	for i, l := range lines {
		if l == heading {
			start = i
			continue
		}
		if start >= 0 && strings.HasPrefix(l, level) {
			return goBlock{strings.Join(lines[start:i], "\n"), start + 1}
		}
	}
	if start < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	return goBlock{strings.Join(lines[start:], "\n"), start + 1}
}

// goBlocks returns the ```go blocks of a markdown section.
func goBlocks(t *testing.T, sec goBlock) []goBlock {
	t.Helper()
	var out []goBlock
	var cur []string
	in, startLine := false, 0
	for i, l := range strings.Split(sec.text, "\n") {
		switch {
		case !in && l == "```go":
			in, cur, startLine = true, nil, sec.line+i+1
		case in && l == "```":
			in = false
			out = append(out, goBlock{strings.Join(cur, "\n"), startLine})
		case in:
			cur = append(cur, l)
		}
	}
	if in {
		t.Fatalf("README.md:%d: a ```go block that is never closed", startLine-1)
	}
	if len(out) == 0 {
		t.Fatalf("README.md:%d: the section has no ```go blocks", sec.line)
	}
	return out
}

// readmeRegions returns the code between "// readme:start" and
// "// readme:end" lines of src, each line with one leading tab removed.
func readmeRegions(t *testing.T, name string, src []byte) []goBlock {
	t.Helper()
	var out []goBlock
	var cur []string
	in, startLine := false, 0
	for i, l := range strings.Split(string(src), "\n") {
		switch strings.TrimSpace(l) {
		case "// readme:start":
			if in {
				t.Fatalf("%s:%d: readme:start inside a region", name, i+1)
			}
			in, cur, startLine = true, nil, i+1
			continue
		case "// readme:end":
			if !in {
				t.Fatalf("%s:%d: readme:end without a readme:start", name, i+1)
			}
			in = false
			out = append(out, goBlock{strings.Join(cur, "\n"), startLine})
			continue
		}
		if in {
			cur = append(cur, strings.TrimPrefix(l, "\t"))
		}
	}
	if in {
		t.Fatalf("%s:%d: readme:start without a readme:end", name, startLine)
	}
	return out
}

// inRunnableExample reports whether line lies in the body of an Example
// function of f that go test runs: one with an Output comment.
func inRunnableExample(fset *token.FileSet, f *ast.File, line int) bool {
	runs := map[string]bool{}
	for _, ex := range doc.Examples(f) {
		runs["Example"+ex.Name] = ex.Output != "" || ex.EmptyOutput
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		if fset.Position(fn.Body.Lbrace).Line < line && line < fset.Position(fn.Body.Rbrace).Line {
			return runs[fn.Name.Name]
		}
	}
	return false
}

// checkImports fails the test for every import of the README block b
// that example_test.go (ef) does not import under the same name.
func checkImports(t *testing.T, b goBlock, ef *ast.File) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "README.md", "package p\n"+b.text, parser.ImportsOnly)
	if err != nil {
		t.Errorf("README.md:%d: the import block does not parse: %v", b.line, err)
		return
	}
	have := map[string]bool{}
	for _, s := range ef.Imports {
		have[importKey(s)] = true
	}
	for _, s := range f.Imports {
		if !have[importKey(s)] {
			t.Errorf("README.md:%d: imports %s, which example_test.go does not import", b.line, importKey(s))
		}
	}
}

func importKey(s *ast.ImportSpec) string {
	if s.Name != nil {
		return s.Name.Name + " " + s.Path.Value
	}
	return s.Path.Value
}

// firstDifference describes the first line where a and b differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	line := func(ls []string, i int) string {
		if i < len(ls) {
			return fmt.Sprintf("%q", ls[i])
		}
		return "(nothing)"
	}
	for i := 0; ; i++ {
		if i >= len(al) || i >= len(bl) || al[i] != bl[i] {
			return fmt.Sprintf("line %d of the block is %s in the README and %s in the example", i+1, line(al, i), line(bl, i))
		}
	}
}
