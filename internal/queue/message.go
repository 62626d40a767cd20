// Package queue is prawn's queue ingest (PRAWN_INGEST_MODE=queue): the api Lambda handler sends
// every view it accepts to an SQS queue (Sender) and answers 202 once SQS has it, and the consume
// handler writes each batch that SQS delivers with one statement (Consumer).
//
// # Exactly once over at-least-once delivery
//
// A view gets an id when it is accepted: a UUIDv7, whose first 48 bits are the accepted time in
// milliseconds, and the accepted time itself travels with it (the view's time is the api's clock
// when it answered 202, not the time it is written). SQS may deliver a message more than once, a
// consumer may be killed after its INSERT committed but before SQS heard of it, a batch may be
// redriven from the dead-letter queue: the Consumer writes a batch with one statement that adds
// the ids to accepted_views (ON CONFLICT DO NOTHING) and inserts only the views whose id was new,
// so every accepted view is stored once and the rollups, which fold stored views, never see a
// copy. Ids are kept for DedupWindow, longer than any copy of a message can live in SQS.
package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/prawnhq/prawn/internal/pageview"
	"github.com/prawnhq/prawn/internal/storage"
)

// Version is the format of the messages this package writes and reads.
const Version = 1

// DedupWindow is how long the ids of written views are kept to recognise a copy: longer than a
// message can live in the queue (4 days) or the dead-letter queue (14 days, counted from the
// first enqueue). A message accepted longer ago than that, less an hour of margin, is dropped
// unwritten (logged): it could no longer be told apart from a copy already written.
const DedupWindow = 15 * 24 * time.Hour

// message is the body of one SQS message: one accepted view. Unknown fields are ignored, so a
// newer api may add some while an older consumer still drains the queue.
type message struct {
	V           int       `json:"v"`
	ID          string    `json:"id"`
	At          time.Time `json:"at"`
	Host        string    `json:"host,omitempty"`
	Path        string    `json:"path"`
	Referrer    string    `json:"referrer,omitempty"`
	RefHost     string    `json:"refHost,omitempty"`
	UTMSource   string    `json:"utmSource,omitempty"`
	UTMMedium   string    `json:"utmMedium,omitempty"`
	UTMCampaign string    `json:"utmCampaign,omitempty"`
	Browser     string    `json:"browser,omitempty"`
	OS          string    `json:"os,omitempty"`
	Device      string    `json:"device,omitempty"`
	Country     string    `json:"country,omitempty"`
	Visitor     int64     `json:"visitor,omitempty"`
}

// Encode is the message body of view v accepted at at with id.
func Encode(id uuid.UUID, at time.Time, v pageview.View) (string, error) {
	b, err := json.Marshal(message{V: Version, ID: id.String(), At: at.UTC(), Host: v.Host, Path: v.Path,
		Referrer: v.Referrer, RefHost: v.RefHost, UTMSource: v.UTMSource, UTMMedium: v.UTMMedium,
		UTMCampaign: v.UTMCampaign, Browser: v.Browser, OS: v.OS, Device: v.Device, Country: v.Country, Visitor: v.Visitor})
	if err != nil {
		return "", fmt.Errorf("encode view: %w", err)
	}
	return string(b), nil
}

// maxText bounds the derived names (browser, OS, device, country): they are short words.
const maxText = 64

// Decode reads a message body back into the view to store, and refuses one that prawn could not
// have written: another format, an id that is not a UUIDv7, a time outside [2000, 3000), or a
// host, path, referrer or campaign that breaks the rules of views (internal/pageview).
func Decode(body string) (storage.AcceptedView, error) {
	var m message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return storage.AcceptedView{}, errors.New("not a JSON view")
	}
	if m.V != Version {
		return storage.AcceptedView{}, fmt.Errorf("message format v%d, want v%d", m.V, Version)
	}
	id, err := uuid.Parse(m.ID)
	if err != nil || id.Version() != 7 || id.Variant() != uuid.RFC4122 {
		return storage.AcceptedView{}, fmt.Errorf("id %q is not a UUIDv7", m.ID)
	}
	if m.At.Year() < 2000 || m.At.Year() >= 3000 {
		return storage.AcceptedView{}, fmt.Errorf("accepted time %s out of range", m.At.Format(time.RFC3339))
	}
	if h, err := pageview.NormalizeHost(m.Host); err != nil || h != m.Host {
		return storage.AcceptedView{}, fmt.Errorf("host %q is not a normalised host", m.Host)
	}
	if p, err := pageview.NormalizePath(m.Path); err != nil || p != m.Path {
		return storage.AcceptedView{}, fmt.Errorf("path %q is not a normalised path", m.Path)
	}
	if r, err := pageview.NormalizeReferrer(m.Referrer); err != nil || r != m.Referrer {
		return storage.AcceptedView{}, errors.New("referrer is not a normalised referrer")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"refHost", m.RefHost, pageview.MaxHostLen}, {"utmSource", m.UTMSource, pageview.MaxCampaignLen},
		{"utmMedium", m.UTMMedium, pageview.MaxCampaignLen}, {"utmCampaign", m.UTMCampaign, pageview.MaxCampaignLen},
		{"browser", m.Browser, maxText}, {"os", m.OS, maxText}, {"device", m.Device, maxText}, {"country", m.Country, maxText},
	} {
		if len(f.value) > f.max {
			return storage.AcceptedView{}, fmt.Errorf("%s is %d bytes long, at most %d", f.name, len(f.value), f.max)
		}
	}
	return storage.AcceptedView{ID: id, AcceptedAt: m.At, View: storage.View{
		Host: m.Host, Path: m.Path, Referrer: m.Referrer, RefHost: m.RefHost,
		UTMSource: m.UTMSource, UTMMedium: m.UTMMedium, UTMCampaign: m.UTMCampaign,
		Browser: m.Browser, OS: m.OS, Device: m.Device, Country: m.Country, Visitor: m.Visitor,
	}}, nil
}

// idBefore is the smallest UUIDv7 of the millisecond t: every id accepted before t sorts below it.
func idBefore(t time.Time) [16]byte {
	var id [16]byte
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	id[6] = 0x70
	return id
}
