package lineage

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Ref returns how a version node is written for people: "name:v3", or the
// commit's short ID when the caller could not name the version.
func (n Node) Ref() string {
	if n.Kind != KindVersion {
		return n.ID
	}
	if n.Name == "" || n.Version < 0 {
		id := n.ID
		if len(id) > 12 {
			id = id[:12]
		}
		return "commit " + id
	}
	return n.Name + ":v" + strconv.FormatInt(n.Version, 10)
}

// Label returns a one-line description of the node for text output:
// "clean:v0 (dataset)" or "run k3x9q2b7 train "baseline" (finished)".
func (n Node) Label() string {
	if n.Kind == KindRun {
		s := "run " + n.ID + " " + n.JobType
		if n.Name != "" {
			s += " " + strconv.Quote(n.Name)
		}
		return s + " (" + n.Status + ")"
	}
	var notes []string
	if n.Type != "" {
		notes = append(notes, n.Type)
	}
	if n.Deleted {
		notes = append(notes, "deleted")
	}
	if len(notes) == 0 {
		return n.Ref()
	}
	return n.Ref() + " (" + strings.Join(notes, ", ") + ")"
}

// MarshalJSON writes a version node as {"kind": "version", "id", "name",
// "version": "v3", "type"} (with "deleted": true for a deleted version;
// "version" is null when unknown) and a run node as {"kind": "run", "id",
// "job_type", "name", "status"}.
func (n Node) MarshalJSON() ([]byte, error) {
	if n.Kind == KindRun {
		return json.Marshal(struct {
			Kind    string `json:"kind"`
			ID      string `json:"id"`
			JobType string `json:"job_type"`
			Name    string `json:"name"`
			Status  string `json:"status"`
		}{n.Kind, n.ID, n.JobType, n.Name, n.Status})
	}
	var version *string
	if n.Version >= 0 {
		v := "v" + strconv.FormatInt(n.Version, 10)
		version = &v
	}
	return json.Marshal(struct {
		Kind    string  `json:"kind"`
		ID      string  `json:"id"`
		Name    string  `json:"name"`
		Version *string `json:"version"`
		Type    string  `json:"type"`
		Deleted bool    `json:"deleted,omitempty"`
	}{n.Kind, n.ID, n.Name, version, n.Type, n.Deleted})
}

// MarshalJSON writes the graph in the shape of `art lineage --json`
// (docs/architecture.md, "The CLI contract"):
// {"root", "direction", "depth", "nodes": [...], "edges": [{"from", "to"}]}.
func (g *Graph) MarshalJSON() ([]byte, error) {
	nodes, edges := g.Nodes, g.Edges
	if nodes == nil {
		nodes = []Node{}
	}
	if edges == nil {
		edges = []Edge{}
	}
	return json.Marshal(struct {
		Root      string `json:"root"`
		Direction string `json:"direction"`
		Depth     int    `json:"depth"`
		Nodes     []Node `json:"nodes"`
		Edges     []Edge `json:"edges"`
	}{g.Root, g.Dir.String(), g.Depth, nodes, edges})
}

// WriteJSON writes the graph as one indented JSON document.
func (g *Graph) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(g)
}

// shortIDs names every node n0, n1, … in graph order, for dot and Mermaid,
// whose identifiers are best kept short and plain.
func (g *Graph) shortIDs() map[string]string {
	ids := make(map[string]string, len(g.Nodes))
	for i, n := range g.Nodes {
		ids[n.ID] = "n" + strconv.Itoa(i)
	}
	return ids
}

// WriteDot writes the graph in Graphviz's dot language, left to right:
// versions as boxes, runs as ellipses, the root drawn bold.
func (g *Graph) WriteDot(w io.Writer) error {
	bw := bufio.NewWriter(w)
	ids := g.shortIDs()
	fmt.Fprintf(bw, "digraph lineage {\n")
	fmt.Fprintf(bw, "  rankdir=LR;\n")
	fmt.Fprintf(bw, "  node [fontname=\"Helvetica\", fontsize=11];\n")
	fmt.Fprintf(bw, "  edge [color=\"#555555\"];\n")
	for _, n := range g.Nodes {
		var attrs string
		if n.Kind == KindRun {
			attrs = fmt.Sprintf(`label="%s\n%s", shape=ellipse, style=filled, fillcolor="#fde68a"`,
				dotEscape(runTitle(n)), dotEscape(n.ID+" · "+n.Status))
		} else {
			sub := n.Type
			if n.Deleted {
				sub += " (deleted)"
			}
			attrs = fmt.Sprintf(`label="%s\n%s", shape=box, style="rounded,filled", fillcolor="#dbeafe"`,
				dotEscape(n.Ref()), dotEscape(sub))
		}
		if n.ID == g.Root {
			attrs += ", penwidth=2"
		}
		fmt.Fprintf(bw, "  %s [%s];\n", ids[n.ID], attrs)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(bw, "  %s -> %s;\n", ids[e.From], ids[e.To])
	}
	fmt.Fprintf(bw, "}\n")
	return bw.Flush()
}

// runTitle is a run's job type and name, for pictures.
func runTitle(n Node) string {
	if n.Name != "" {
		return n.JobType + " " + strconv.Quote(n.Name)
	}
	return n.JobType
}

// dotEscape escapes s for a double-quoted dot string.
func dotEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "").Replace(s)
}

// WriteMermaid writes the graph as a Mermaid flowchart, left to right:
// versions as rounded boxes, runs as stadiums, the root drawn bold.
func (g *Graph) WriteMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	ids := g.shortIDs()
	fmt.Fprintf(bw, "flowchart LR\n")
	var versions, runs []string
	for _, n := range g.Nodes {
		id := ids[n.ID]
		if n.Kind == KindRun {
			fmt.Fprintf(bw, "  %s([\"%s<br/>%s\"])\n", id, mermaidEscape(runTitle(n)), mermaidEscape(n.ID+" · "+n.Status))
			runs = append(runs, id)
			continue
		}
		sub := n.Type
		if n.Deleted {
			sub += " (deleted)"
		}
		fmt.Fprintf(bw, "  %s(\"%s<br/>%s\")\n", id, mermaidEscape(n.Ref()), mermaidEscape(sub))
		versions = append(versions, id)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(bw, "  %s --> %s\n", ids[e.From], ids[e.To])
	}
	fmt.Fprintf(bw, "  classDef version fill:#dbeafe,stroke:#1e3a8a\n")
	fmt.Fprintf(bw, "  classDef run fill:#fde68a,stroke:#92400e\n")
	fmt.Fprintf(bw, "  classDef root stroke-width:3px\n")
	if len(versions) > 0 {
		fmt.Fprintf(bw, "  class %s version\n", strings.Join(versions, ","))
	}
	if len(runs) > 0 {
		fmt.Fprintf(bw, "  class %s run\n", strings.Join(runs, ","))
	}
	if id, ok := ids[g.Root]; ok {
		fmt.Fprintf(bw, "  class %s root\n", id)
	}
	return bw.Flush()
}

// mermaidEscape escapes s for a double-quoted Mermaid label, where
// entities are written #name; and markup would be interpreted.
func mermaidEscape(s string) string {
	return strings.NewReplacer("#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ", "\r", "").Replace(s)
}

// WriteText writes the graph as a tree from the root: upstream (what the
// root was made from) and then downstream (what used it), as the graph's
// direction says, children in the order of their labels. A node reached again is printed once more without its
// subtree, marked "(see above)".
func (g *Graph) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	nodes := make(map[string]Node, len(g.Nodes))
	for _, n := range g.Nodes {
		nodes[n.ID] = n
	}
	from := map[string][]string{} // to -> froms: walking upstream
	to := map[string][]string{}   // from -> tos: walking downstream
	for _, e := range g.Edges {
		from[e.To] = append(from[e.To], e.From)
		to[e.From] = append(to[e.From], e.To)
	}
	for _, m := range []map[string][]string{from, to} {
		for _, kids := range m {
			slices.SortFunc(kids, func(a, b string) int {
				return cmp.Or(cmp.Compare(nodes[a].Label(), nodes[b].Label()), cmp.Compare(a, b))
			})
		}
	}
	root := nodes[g.Root]
	sections := []struct {
		dir   Direction
		title string
		next  map[string][]string
	}{
		{Up, "upstream: what " + root.Ref() + " was made from", from},
		{Down, "downstream: what used " + root.Ref(), to},
	}
	first := true
	for _, s := range sections {
		if g.Dir&s.dir == 0 {
			continue
		}
		if !first {
			bw.WriteString("\n")
		}
		first = false
		if g.Dir == Both {
			bw.WriteString(s.title + "\n")
		}
		bw.WriteString(root.Label() + "\n")
		seen := map[string]bool{g.Root: true}
		var walk func(id, indent string)
		walk = func(id, indent string) {
			kids := s.next[id]
			for i, k := range kids {
				branch, more := "├── ", "│   "
				if i == len(kids)-1 {
					branch, more = "└── ", "    "
				}
				n, ok := nodes[k]
				if !ok {
					n = Node{Kind: KindVersion, ID: k, Version: -1}
				}
				label := n.Label()
				if seen[k] {
					bw.WriteString(indent + branch + label + " (see above)\n")
					continue
				}
				seen[k] = true
				bw.WriteString(indent + branch + label + "\n")
				walk(k, indent+more)
			}
		}
		walk(g.Root, "")
		if len(s.next[g.Root]) == 0 {
			if s.dir == Up {
				bw.WriteString("(no run logged it)\n")
			} else {
				bw.WriteString("(no run used it)\n")
			}
		}
	}
	return bw.Flush()
}
