package record

import "sharedcare/internal/store"

// The faces see stored data through these names, so that none of them
// imports store: record is their one door.
type (
	// Version is one stored version of a resource.
	Version = store.Version
	// HistoryQuery selects versions for the history interactions.
	HistoryQuery = store.HistoryQuery
	// Method is the interaction that wrote a version.
	Method = store.Method
	// SearchResult is one page of a search.
	SearchResult = store.SearchResult
)

// Methods a version can be written by.
const (
	MethodCreate = store.Create
	MethodUpdate = store.Update
	MethodDelete = store.Delete
)

// InstantFormat is how lastUpdated is written.
const InstantFormat = store.InstantFormat
