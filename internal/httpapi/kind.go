package httpapi

import (
	"maps"
	"slices"
	"strings"
)

// Kind is what an operation does. Every operation of api/openapi.yaml declares its kind as
// x-prawn-kind, and the kind alone decides what the edge does for it (policies): adding an
// operation to the contract is the only place its kind is declared.
type Kind string

// The kinds of operation.
const (
	// KindRecord operations record views: rate limited per client, bots and prefetches answered
	// without counting, refused views tallied in dropped, CORS for PRAWN_CORS_ORIGINS.
	KindRecord Kind = "record"
	// KindRead operations read counts from the database: rate limited per client, apart from
	// recording; any origin's pages may read them.
	KindRead Kind = "read"
	// KindMeta operations describe the service (health, readiness, the contract).
	KindMeta Kind = "meta"
	// KindExport operations stream history out: no database deadline, and the write deadline
	// moves on while the answer flows.
	KindExport Kind = "export"
	// KindImport operations take a file in: bodies up to MaxImportBytes, no database deadline,
	// and the read deadline moves on while the body flows.
	KindImport Kind = "import"
)

// MaxImportBytes caps the body of an import; bigger files go through `prawn import`.
const MaxImportBytes = 1 << 30

// policy is what the edge does for the operations of one kind.
type policy struct {
	// records marks bots and prefetches for the operation (which answers without counting them)
	// and tallies the views refused (429, 400, 413) in dropped.
	records bool
	// rate is the per-client rate limit that applies, if any.
	rate rateClass
	// dbDeadline bounds the operation's work by Edge.DBTimeout.
	dbDeadline bool
	// slots bounds the operation's requests in flight, per client and overall (Edge.ReadsPerClient,
	// Edge.MaxReads).
	slots bool
	// cors is which origins' pages may call the operation across origins.
	cors corsRule
	// maxBody caps the request body, in bytes.
	maxBody int64
	// stream keeps a long answer or body flowing past the server's read and write timeouts,
	// as long as bytes keep moving.
	stream bool
	// tokens are the token uses the kind's operations may declare in the contract (their
	// security and x-prawn-scope, the source of what each needs; see authRule): the contract
	// is refused at start when an operation declares another.
	tokens tokenUse
}

// tokenUse is when an operation takes a token, as a set.
type tokenUse uint8

const (
	// tokensNever: security [] — the operation never takes a token.
	tokensNever tokenUse = 1 << iota
	// tokensWhenPrivate: security [{}, {token: []}] — a token of x-prawn-scope is needed when
	// stats are private (PRAWN_STATS=private).
	tokensWhenPrivate
	// tokensAlways: security [{token: []}] — a token of x-prawn-scope is always needed.
	tokensAlways
)

// rateClass names a per-client rate limit of the edge.
type rateClass int

const (
	noRate        rateClass = iota
	rateRecording           // Edge.RateLimit and Edge.RateBurst
	rateReading             // Edge.ReadRateLimit and Edge.ReadRateBurst
)

// counts names what a class counts, for the 429's detail.
func (c rateClass) counts() string {
	if c == rateReading {
		return "reads"
	}
	return "views"
}

// corsRule says which origins may call an operation from their pages.
type corsRule int

const (
	corsNone       corsRule = iota // no CORS headers: browsers keep other origins out
	corsConfigured                 // Edge.CORSOrigins
	corsAnyOrigin                  // every origin, without credentials: public reads
)

// policies is the edge's table: one row per kind. What is planned lands here, not in string
// matches: the pixel and the badge are operations of kind record in the contract (the badge's
// requests that do not ask to record are served under badgeRead: x-prawn-record-param); public
// reads answer CORS with "*" (corsAnyOrigin); reads have a per-client limit of their own
// (rateReading). The origin secret guards every request (edge.identify), not a kind.
var policies = map[Kind]policy{
	KindRecord: {records: true, rate: rateRecording, dbDeadline: true, cors: corsConfigured, maxBody: MaxBodyBytes,
		tokens: tokensNever | tokensWhenPrivate}, // GET /api/home shows a count
	KindRead:   {rate: rateReading, slots: true, dbDeadline: true, cors: corsAnyOrigin, maxBody: MaxBodyBytes, tokens: tokensWhenPrivate},
	KindMeta:   {maxBody: MaxBodyBytes, tokens: tokensNever},
	KindExport: {maxBody: MaxBodyBytes, stream: true, tokens: tokensAlways},
	KindImport: {maxBody: MaxImportBytes, stream: true, tokens: tokensAlways},
}

// badgeRead is the policy of a badge's requests that do not ask to record: a read, but one that
// README images make through a few image proxies (GitHub's camo), so it shares the recording
// limit (PRAWN_RATE_LIMIT) rather than the stricter one of reads, and takes no read slot.
var badgeRead = policy{rate: rateRecording, dbDeadline: true, cors: corsAnyOrigin, maxBody: MaxBodyBytes}

// kindNames lists the kinds for error messages.
func kindNames() string {
	names := make([]string, 0, len(policies))
	for k := range maps.Keys(policies) {
		names = append(names, string(k))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
