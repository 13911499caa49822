// Package outcome holds the one error type that reaches a client: a list of
// issues, each with a FHIRPath location, and the HTTP status to answer with.
// The api package renders it as an OperationOutcome. It imports nothing of
// the project.
package outcome

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Issue severities and the issue types this server uses
// (https://hl7.org/fhir/R4/valueset-issue-type.html).
const (
	Fatal       = "fatal"
	Err         = "error"
	Warning     = "warning"
	Information = "information"

	CodeInvalid      = "invalid"
	CodeStructure    = "structure"
	CodeRequired     = "required"
	CodeValue        = "value"
	CodeInvariant    = "invariant"
	CodeSecurity     = "security"
	CodeLogin        = "login"
	CodeForbidden    = "forbidden"
	CodeNotSupported = "not-supported"
	CodeDuplicate    = "duplicate"
	CodeMultiple     = "multiple-matches"
	CodeNotFound     = "not-found"
	CodeDeleted      = "deleted"
	CodeTooLong      = "too-long"
	CodeCodeInvalid  = "code-invalid"
	CodeConflict     = "conflict"
	CodeTooCostly    = "too-costly"
	CodeThrottled    = "throttled"
	CodeProcessing   = "processing"
	CodeException    = "exception"
	CodeTransient    = "transient"
	CodeInformation  = "informational"
)

// Issue is one finding. Diagnostics may quote the client's input (names, NHS
// numbers), so it is sent to the client and never written to logs.
type Issue struct {
	Severity    string // fatal | error | warning | information
	Code        string // issue type: invalid, required, value, not-found, ...
	Expression  string // FHIRPath location, e.g. "Patient.contact[0].telecom[1].value"
	Diagnostics string // for the client
}

// Error is a failure the client can act on; api renders it as an
// OperationOutcome with Status. It always holds at least one issue.
type Error struct {
	Status  int     // 400, 404, 409, 410, 412, 422, 429, 503 ...
	Issues  []Issue // at least one
	Err     error   // the cause, for logs only
	Headers map[string]string
	// VersionID is set on 410 Gone so that the response can carry the ETag
	// of the deletion.
	VersionID string
}

// Error is log-safe: status, issue codes and locations, never Diagnostics.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Status)
	for i, is := range e.Issues {
		if i == 3 {
			fmt.Fprintf(&b, " (+%d more)", len(e.Issues)-3)
			break
		}
		b.WriteString(" ")
		b.WriteString(is.Code)
		if is.Expression != "" {
			b.WriteString("@")
			b.WriteString(is.Expression)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// HasErrors reports whether any issue is of severity error or fatal.
func (e *Error) HasErrors() bool {
	for _, is := range e.Issues {
		if is.Severity == Err || is.Severity == Fatal {
			return true
		}
	}
	return false
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// New returns an error with one issue of severity error.
func New(status int, code, expression, diagnostics string) *Error {
	return &Error{Status: status, Issues: []Issue{{Severity: Err, Code: code, Expression: expression, Diagnostics: diagnostics}}}
}

// Newf is New with a formatted diagnostic.
func Newf(status int, code, expression, format string, args ...any) *Error {
	return New(status, code, expression, fmt.Sprintf(format, args...))
}

// Invalid is a 400 with one issue of type invalid at expression.
func Invalid(expression, format string, args ...any) *Error {
	return Newf(http.StatusBadRequest, CodeInvalid, expression, format, args...)
}

// NotFound is the 404 for a resource that never existed.
func NotFound(typ, id string) *Error {
	return Newf(http.StatusNotFound, CodeNotFound, "", "%s/%s is not known", typ, id)
}

// Gone is the 410 for a resource whose current version is a deletion.
func Gone(typ, id, versionID string) *Error {
	e := Newf(http.StatusGone, CodeDeleted, "", "%s/%s was deleted (version %s)", typ, id, versionID)
	e.VersionID = versionID
	return e
}

// Conflict is a 409 (or 412 when status says so) with a conflict issue.
func Conflict(status int, format string, args ...any) *Error {
	return Newf(status, CodeConflict, "", format, args...)
}

// Unavailable is a 503 telling the client when to try again.
func Unavailable(retryAfterSeconds int, format string, args ...any) *Error {
	e := Newf(http.StatusServiceUnavailable, CodeTransient, "", format, args...)
	e.Headers = map[string]string{"Retry-After": fmt.Sprint(retryAfterSeconds)}
	return e
}

// List collects issues found in one pass and turns them into one *Error.
type List struct {
	Issues []Issue
}

// Add records an issue of severity error.
func (l *List) Add(code, expression, format string, args ...any) {
	l.Issues = append(l.Issues, Issue{Severity: Err, Code: code, Expression: expression, Diagnostics: fmt.Sprintf(format, args...)})
}

// Warn records an issue of severity warning.
func (l *List) Warn(code, expression, format string, args ...any) {
	l.Issues = append(l.Issues, Issue{Severity: Warning, Code: code, Expression: expression, Diagnostics: fmt.Sprintf(format, args...)})
}

// Err returns nil when no issue of severity error was recorded, else an
// *Error with status and every issue (warnings included).
func (l *List) Err(status int) error {
	for _, is := range l.Issues {
		if is.Severity == Err || is.Severity == Fatal {
			return &Error{Status: status, Issues: l.Issues}
		}
	}
	return nil
}
