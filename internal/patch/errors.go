package patch

import (
	"fmt"
	"net/http"
	"strconv"

	"sharedcare/internal/outcome"
)

// malformed is the 400 for a fault in the patch document itself.
func malformed(expr, format string, args ...any) outcome.Issue {
	return outcome.Issue{Severity: outcome.Err, Code: outcome.CodeInvalid, Expression: expr, Diagnostics: fmt.Sprintf(format, args...)}
}

// unapplicable is the 422 for a well-formed operation that does not apply
// to the resource at hand.
func unapplicable(expr, format string, args ...any) *outcome.Error {
	return outcome.Newf(http.StatusUnprocessableEntity, outcome.CodeProcessing, expr, format, args...)
}

// issues turns the faults found while parsing into one 400, or nil.
func issues(list []outcome.Issue) error {
	if len(list) == 0 {
		return nil
	}
	return &outcome.Error{Status: http.StatusBadRequest, Issues: list}
}

// index appends "[i]" to expr.
func index(expr string, i int) string {
	return expr + "[" + strconv.Itoa(i) + "]"
}
