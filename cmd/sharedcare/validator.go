package main

import "sharedcare/internal/record"

// newValidator returns the resource validator the server runs on every write.
func newValidator() record.ValidateFunc { return nil }
