package lineage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/artvcs/art/objects"
)

// Direction says which way a graph query walks from its version.
type Direction int

const (
	// Up walks to what the version was made from: its producer runs, their
	// inputs, their producers, and so on.
	Up Direction = 1 << iota
	// Down walks to what used the version: the runs that used it, their
	// outputs, the runs that used those, and so on.
	Down
	// Both walks both ways.
	Both = Up | Down
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	case Both:
		return "both"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

// DefaultDepth is the depth of a graph query when none is given.
const DefaultDepth = 10

// Node kinds.
const (
	KindVersion = "version"
	KindRun     = "run"
)

// Node is a version or a run in a lineage graph.
type Node struct {
	Kind string // KindVersion or KindRun
	// ID is a version's commit ID (64 hex characters) or a run's ID.
	ID string
	// Name is a version's artifact name or a run's name.
	Name string

	// Version, Type and Deleted describe a version node. The queries leave
	// them unset (Version -1): the caller fills them in from the version
	// index, which this package does not read.
	Version int64
	Type    string
	Deleted bool // the version was deleted; only its commit remains

	// JobType and Status describe a run node.
	JobType string
	Status  string
}

// Edge is a directed edge: version → run for an input, run → version for
// an output.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Graph is the answer of a graph query.
type Graph struct {
	Root  string    // the commit ID the query started from
	Dir   Direction // which way it walked
	Depth int       // how many runs deep it went at most
	Nodes []Node    // the root first, then runs, then versions, each by ID
	Edges []Edge    // sorted by From, then To
}

// Node returns the node with id.
func (g *Graph) Node(id string) (*Node, bool) {
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			return &g.Nodes[i], true
		}
	}
	return nil, false
}

// Upstream returns what the version commit was made from, up to depth runs
// away: the runs that logged it, the versions they used, the runs that
// logged those, and so on.
func (x *Index) Upstream(ctx context.Context, commit objects.ID, depth int) (*Graph, error) {
	return x.Graph(ctx, commit, Up, depth)
}

// Downstream returns what used the version commit, up to depth runs away:
// the runs that used it, the versions they logged, the runs that used
// those, and so on.
func (x *Index) Downstream(ctx context.Context, commit objects.ID, depth int) (*Graph, error) {
	return x.Graph(ctx, commit, Down, depth)
}

// The walks are recursive CTEs over the indexed edge tables, on integer
// keys. A row of walk is a node (kind 0: version, 1: run) reached at a
// depth (runs crossed) through the node src; UNION drops repeated rows, so
// a walk visits at most (edges × depth) rows and ends on cycles. Every hop
// is a lookup in one of the tables' two indexes. The keys are then turned
// into IDs by two lookups of the distinct nodes.
const (
	upstreamSQL = `WITH RECURSIVE walk(kind, n, depth, src) AS (
		SELECT 0, n, 0, 0 FROM lineage_commits WHERE id = ?1
		UNION
		SELECT 1, o.run_id, w.depth + 1, w.n
			FROM walk w JOIN run_outputs o ON o.commit_id = w.n
			WHERE w.kind = 0 AND w.depth < ?2
		UNION
		SELECT 0, i.commit_id, w.depth, w.n
			FROM walk w JOIN run_inputs i ON i.run_id = w.n
			WHERE w.kind = 1
	)
	SELECT kind, n, src FROM walk`

	downstreamSQL = `WITH RECURSIVE walk(kind, n, depth, src) AS (
		SELECT 0, n, 0, 0 FROM lineage_commits WHERE id = ?1
		UNION
		SELECT 1, i.run_id, w.depth + 1, w.n
			FROM walk w JOIN run_inputs i ON i.commit_id = w.n
			WHERE w.kind = 0 AND w.depth < ?2
		UNION
		SELECT 0, o.commit_id, w.depth, w.n
			FROM walk w JOIN run_outputs o ON o.run_id = w.n
			WHERE w.kind = 1
	)
	SELECT kind, n, src FROM walk`

	runsByKeySQL    = `SELECT r.n, r.id, r.job_type, r.name, r.status FROM json_each(?) j JOIN runs r ON r.n = j.value`
	commitsByKeySQL = `SELECT c.n, c.id FROM json_each(?) j JOIN lineage_commits c ON c.n = j.value`
)

// Graph walks from the version commit in direction dir, up to depth runs
// away (depth < 1 means DefaultDepth). The root is always a node, even
// when no run used or logged it.
func (x *Index) Graph(ctx context.Context, commit objects.ID, dir Direction, depth int) (*Graph, error) {
	if depth < 1 {
		depth = DefaultDepth
	}
	if dir&Both == 0 || dir&^Both != 0 {
		return nil, fmt.Errorf("lineage: bad direction %v", dir)
	}
	root := commit.String()
	b := &graphBuilder{runs: map[int64]bool{}, versions: map[int64]bool{}, edges: map[keyEdge]bool{}}
	for _, d := range []Direction{Up, Down} {
		if dir&d == 0 {
			continue
		}
		if err := x.walk(ctx, b, root, d, depth); err != nil {
			return nil, err
		}
	}
	return x.resolve(ctx, b, root, dir, depth)
}

// key is a node's integer key and kind.
type key struct {
	run bool
	n   int64
}

type keyEdge struct{ from, to key }

type graphBuilder struct {
	runs, versions map[int64]bool
	edges          map[keyEdge]bool
}

func (x *Index) walk(ctx context.Context, b *graphBuilder, root string, dir Direction, depth int) error {
	query := upstreamSQL
	if dir == Down {
		query = downstreamSQL
	}
	rows, err := x.q.QueryContext(ctx, query, root, depth)
	if err != nil {
		return fmt.Errorf("lineage %s of %s: %w", dir, root[:12], err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, n, src int64
		if err := rows.Scan(&kind, &n, &src); err != nil {
			return err
		}
		node := key{run: kind == 1, n: n}
		if node.run {
			b.runs[n] = true
		} else {
			b.versions[n] = true
		}
		if src == 0 {
			continue // the root (keys start at 1)
		}
		// A run row came from a version, a version row from a run. Upstream
		// walks edges backwards: a run reached from a version is its
		// producer (run → version), a version reached from a run is its
		// input (version → run). Downstream walks them forwards.
		e := keyEdge{from: key{run: !node.run, n: src}, to: node}
		if dir == Up {
			e = keyEdge{from: node, to: e.from}
		}
		b.edges[e] = true
	}
	return rows.Err()
}

// resolve turns the walked keys into a Graph of IDs.
func (x *Index) resolve(ctx context.Context, b *graphBuilder, root string, dir Direction, depth int) (*Graph, error) {
	g := &Graph{Root: root, Dir: dir, Depth: depth}
	ids := map[key]string{}
	g.Nodes = append(g.Nodes, Node{Kind: KindVersion, ID: root, Version: -1})
	if len(b.versions) > 0 {
		rows, err := x.q.QueryContext(ctx, commitsByKeySQL, jsonKeys(b.versions))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n int64
			var id string
			if err := rows.Scan(&n, &id); err != nil {
				rows.Close()
				return nil, err
			}
			ids[key{n: n}] = id
			if id != root {
				g.Nodes = append(g.Nodes, Node{Kind: KindVersion, ID: id, Version: -1})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if len(b.runs) > 0 {
		rows, err := x.q.QueryContext(ctx, runsByKeySQL, jsonKeys(b.runs))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n int64
			r := Node{Kind: KindRun, Version: -1}
			if err := rows.Scan(&n, &r.ID, &r.JobType, &r.Name, &r.Status); err != nil {
				rows.Close()
				return nil, err
			}
			ids[key{run: true, n: n}] = r.ID
			g.Nodes = append(g.Nodes, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if len(ids) != len(b.runs)+len(b.versions) {
		return nil, fmt.Errorf("lineage of %s: the index changed during the query; try again", root[:12])
	}
	for e := range b.edges {
		g.Edges = append(g.Edges, Edge{From: ids[e.from], To: ids[e.to]})
	}
	rank := func(n Node) int {
		switch {
		case n.ID == root:
			return 0
		case n.Kind == KindRun:
			return 1
		}
		return 2
	}
	slices.SortFunc(g.Nodes, func(a, b Node) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return g, nil
}

// jsonKeys returns the keys of m as a JSON array, for json_each.
func jsonKeys(m map[int64]bool) string {
	buf := make([]byte, 0, 8*len(m)+2)
	buf = append(buf, '[')
	for n := range m {
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, n, 10)
	}
	return string(append(buf, ']'))
}
