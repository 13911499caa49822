package main

import "testing"

// TestDatabaseFlag checks that the PostgreSQL URL is taken from -database,
// from -database-url (its first name), and from the environment.
func TestDatabaseFlag(t *testing.T) {
	const url = "postgres://127.0.0.1:5432/test"
	for _, c := range []struct {
		name string
		args []string
		env  string
	}{
		{"-database", []string{"-database", url}, ""},
		{"-database-url", []string{"-database-url", url}, ""},
		{"environment", nil, url},
		{"flag over environment", []string{"-database", url}, "postgres://elsewhere/db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SHAREDCARE_DATABASE_URL", c.env)
			cfg, err := serveFlags(c.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DatabaseURL != url {
				t.Errorf("database URL %q, want %q", cfg.DatabaseURL, url)
			}
		})
	}
}
