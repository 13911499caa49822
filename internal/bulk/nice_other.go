//go:build !linux

package bulk

// lowPriority does nothing where threads cannot be given a priority.
func lowPriority() func() { return func() {} }
