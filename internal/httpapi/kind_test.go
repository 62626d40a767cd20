package httpapi

import (
	"strings"
	"testing"

	openapi "github.com/prawnhq/prawn/api"
)

// TestEveryOperationHasAKind holds the rule that the contract is the one place an operation's
// kind is declared: the embedded contract declares one for each operation, and a contract with
// an operation lacking it, or naming an unknown kind, is refused with the operation named.
func TestEveryOperationHasAKind(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Kind{
		"recordView": KindRecord, "getHome": KindRecord, "recordPixel": KindRecord, "getBadge": KindRecord,
		"getStats": KindRead, "listPages": KindRead, "listHosts": KindRead, "getBreakdown": KindRead, "getBadgeEndpoint": KindRead,
		"getOpenAPI": KindMeta, "getHealth": KindMeta, "getReady": KindMeta,
		"exportData": KindExport, "importData": KindImport,
	}
	if len(c.ops) != len(want) {
		t.Errorf("%d operations in the contract, this test knows %d: add the new one here", len(c.ops), len(want))
	}
	for pattern, op := range c.ops {
		if k, ok := want[op.id]; !ok || op.kind != k {
			t.Errorf("%s (%s) has kind %q, want %q", op.id, pattern, op.kind, k)
		}
		if _, ok := policies[op.kind]; !ok {
			t.Errorf("%s has kind %q, which has no policy", op.id, op.kind)
		}
	}

	spec := string(openapi.YAML)
	const line = "      x-prawn-kind: read\n"
	i := strings.Index(spec, "      operationId: getStats\n"+line) + len("      operationId: getStats\n")
	if i < 0 {
		t.Fatal("no read operation in the contract")
	}
	_, err = parseContract([]byte(spec[:i] + spec[i+len(line):]))
	if err == nil || !strings.Contains(err.Error(), "getStats (GET /api/stats) has no x-prawn-kind") {
		t.Errorf("contract without the kind of getStats: err = %v", err)
	}
	_, err = parseContract([]byte(spec[:i] + "      x-prawn-kind: write\n" + spec[i+len(line):]))
	if err == nil || !strings.Contains(err.Error(), `getStats (GET /api/stats) has x-prawn-kind "write": want one of export, import, meta, read, record`) {
		t.Errorf("contract with an unknown kind: err = %v", err)
	}
}

// TestEveryRouteIsAnOperation checks the router against the generated code: a route that is not
// an operation of the contract, or an operation without a route, stops the handler from being
// built.
func TestEveryRouteIsAnOperation(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	rt := newRouter(c, newEdge(Edge{}, NewDrops(), nil))
	func() {
		defer func() {
			if v := recover(); v == nil || !strings.Contains(v.(string), `route "DELETE /api/views" is not an operation`) {
				t.Errorf("unknown route: recovered %v", v)
			}
		}()
		rt.HandleFunc("DELETE /api/views", nil)
	}()
	if err := rt.complete(); err == nil || !strings.Contains(err.Error(), "has no generated route") {
		t.Errorf("operations without routes: err = %v", err)
	}
}
