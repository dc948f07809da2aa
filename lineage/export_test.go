package lineage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/artvcs/art/lineage"
)

func modelGraph(t *testing.T, dir lineage.Direction) *lineage.Graph {
	t.Helper()
	x := pipeline(t)
	g, err := x.Graph(context.Background(), commit("model:v0"), dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	describe(g)
	return g
}

func TestWriteJSON(t *testing.T) {
	g := modelGraph(t, lineage.Both)
	var b bytes.Buffer
	if err := g.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Root      string           `json:"root"`
		Direction string           `json:"direction"`
		Depth     int              `json:"depth"`
		Nodes     []map[string]any `json:"nodes"`
		Edges     []map[string]any `json:"edges"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Root != commit("model:v0").String() || doc.Direction != "both" || doc.Depth != 10 {
		t.Fatalf("header root=%s direction=%s depth=%d", doc.Root, doc.Direction, doc.Depth)
	}
	ids := map[string]bool{}
	for _, n := range doc.Nodes {
		ids[n["id"].(string)] = true
		switch n["kind"] {
		case "version":
			for _, k := range []string{"id", "name", "version", "type"} {
				if _, ok := n[k]; !ok {
					t.Errorf("version node %v lacks %q", n, k)
				}
			}
			if !regexp.MustCompile(`^v\d+$`).MatchString(n["version"].(string)) {
				t.Errorf("version node %v: version is not vN", n)
			}
		case "run":
			for _, k := range []string{"id", "job_type", "name", "status"} {
				if _, ok := n[k]; !ok {
					t.Errorf("run node %v lacks %q", n, k)
				}
			}
		default:
			t.Errorf("node of kind %v", n["kind"])
		}
	}
	if len(doc.Edges) != len(g.Edges) || len(doc.Edges) == 0 {
		t.Fatalf("%d edges in JSON, graph has %d", len(doc.Edges), len(g.Edges))
	}
	for _, e := range doc.Edges {
		if len(e) != 2 || !ids[e["from"].(string)] || !ids[e["to"].(string)] {
			t.Errorf("edge %v: want exactly from and to, both nodes", e)
		}
	}
}

// TestWriteDot has Graphviz parse the output. `make test` installs
// Graphviz; a missing dot is a failure, not a skip.
func TestWriteDot(t *testing.T) {
	g := modelGraph(t, lineage.Both)
	// A run name with characters that need escaping.
	for i := range g.Nodes {
		if g.Nodes[i].Kind == lineage.KindRun {
			g.Nodes[i].Name = `say "hi" \ <b>` + "\nline two"
		}
	}
	var b bytes.Buffer
	if err := g.WriteDot(&b); err != nil {
		t.Fatal(err)
	}
	checkDot(t, b.Bytes())
	if !strings.Contains(b.String(), "model:v0") || !strings.Contains(b.String(), "train001") {
		t.Fatalf("dot output lacks labels:\n%s", b.String())
	}
}

// checkDot runs `dot -Tsvg` on src and fails the test unless it succeeds.
func checkDot(t *testing.T, src []byte) {
	t.Helper()
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Fatalf("Graphviz dot is not installed (`make test` installs it: apt-get install graphviz): %v", err)
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = bytes.NewReader(src)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\ninput:\n%s", err, stderr.String(), src)
	}
	if !bytes.Contains(stdout.Bytes(), []byte("<svg")) {
		t.Fatalf("dot -Tsvg printed no SVG")
	}
}

func TestWriteMermaid(t *testing.T) {
	g := modelGraph(t, lineage.Both)
	for i := range g.Nodes {
		if g.Nodes[i].Kind == lineage.KindRun {
			g.Nodes[i].Name = `"quoted" <x> #1`
		}
	}
	var b bytes.Buffer
	if err := g.WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	checkMermaid(t, b.String(), len(g.Nodes), len(g.Edges))
}

// checkMermaid checks a flowchart's structure: the header, one declaration
// per node with a quoted label free of raw quotes and angle brackets, and
// edges between declared nodes only.
func checkMermaid(t *testing.T, src string, nodes, edges int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "flowchart ") {
		t.Fatalf("mermaid output does not start with flowchart:\n%s", src)
	}
	decl := regexp.MustCompile(`^  (n\d+)(\(\["(.*)"\]\)|\("(.*)"\))$`)
	edge := regexp.MustCompile(`^  (n\d+) --> (n\d+)$`)
	declared := map[string]bool{}
	nEdges := 0
	for _, l := range lines[1:] {
		if m := decl.FindStringSubmatch(l); m != nil {
			label := m[3] + m[4]
			if strings.ContainsAny(strings.ReplaceAll(label, "<br/>", ""), `"<>`) {
				t.Errorf("unescaped label in %q", l)
			}
			declared[m[1]] = true
			continue
		}
		if m := edge.FindStringSubmatch(l); m != nil {
			if !declared[m[1]] || !declared[m[2]] {
				t.Errorf("edge %q between undeclared nodes", l)
			}
			nEdges++
			continue
		}
		if !strings.HasPrefix(l, "  classDef ") && !strings.HasPrefix(l, "  class ") {
			t.Errorf("unexpected line %q", l)
		}
	}
	if len(declared) != nodes || nEdges != edges {
		t.Fatalf("%d nodes and %d edges declared, want %d and %d:\n%s", len(declared), nEdges, nodes, edges, src)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := modelGraph(t, lineage.Both).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `upstream: what model:v0 was made from
model:v0 (dataset)
└── run train001 train (running)
    ├── clean:v0 (dataset)
    │   └── run prep0001 preprocess (running)
    │       └── raw:v0 (dataset)
    └── tokenizer:v0 (dataset)
        └── run tok00001 tokenize (running)

downstream: what used model:v0
model:v0 (dataset)
└── run eval0001 evaluate (running)
    └── report:v0 (dataset)
`
	if got := b.String(); got != want {
		t.Fatalf("WriteText:\n%s\nwant:\n%s", got, want)
	}

	b.Reset()
	if err := modelGraph(t, lineage.Up).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "downstream") || !strings.HasPrefix(b.String(), "model:v0 (dataset)\n") {
		t.Fatalf("upstream-only text:\n%s", b.String())
	}
}
