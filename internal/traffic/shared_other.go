//go:build !unix

package traffic

import (
	"errors"
	"os"
)

var errUnshared = errors.New("traffic: shared counters need a unix system")

func create() (*counters, *os.File, error) { return nil, nil, errUnshared }

func mapFile(*os.File) (*counters, error) { return nil, errUnshared }
