package auth

import (
	"context"
	"testing"
)

func TestPrincipalContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if p, ok := FromContext(ctx); ok || p != nil {
		t.Errorf("FromContext(empty) = %v, %v; want nil, false", p, ok)
	}
	if p, ok := FromContext(NewContext(ctx, nil)); ok || p != nil {
		t.Errorf("FromContext(NewContext(nil)) = %v, %v; want nil, false", p, ok)
	}
	want := &Principal{Kind: Clinician, Subject: "u1", FHIRUser: "Practitioner/1"}
	if p, ok := FromContext(NewContext(ctx, want)); !ok || p != want {
		t.Errorf("FromContext(NewContext(p)) = %v, %v; want p, true", p, ok)
	}
	dev := DevPrincipal()
	for _, c := range []Context{PatientContext, UserContext, SystemContext} {
		for op := Create; op <= Search; op++ {
			if !dev.Scopes.Allows(c, "Patient", op) {
				t.Errorf("DevPrincipal().Scopes.Allows(%s, Patient, %s) = false", c, op)
			}
		}
	}
}
