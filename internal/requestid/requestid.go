// Package requestid carries a request's id in its context, so that logs,
// OperationOutcomes and AuditEvents of one request can be matched up. It
// imports nothing of the project.
package requestid

import "context"

type key struct{}

// NewContext returns a copy of ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// FromContext returns the request id, or "" when there is none.
func FromContext(ctx context.Context) string {
	s, _ := ctx.Value(key{}).(string)
	return s
}
