package server

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"sharedcare/internal/auth"
	"sharedcare/internal/fhir"
	"sharedcare/internal/synth"
)

// demoReasons are why the demo patients booked, in slot order.
var demoReasons = []string{"Diabetes review", "Blood pressure check", "Diabetes and mood review", "Asthma review",
	"Low mood follow-up", "Cough for three weeks", "Asthma review", "Breathlessness"}

// demoSlots are the slots (of ten minutes from 09:00) the demo patients have.
var demoSlots = []int{0, 2, 3, 5, 7, 9, 12, 14}

// loadDemoAppointments books day's morning surgery for the demo GP: a
// Schedule, ten-minute Slots from 09:00 to 11:50 UK time, and Appointments
// for the first demo patients. Every id derives from the date, so loading
// the same day again changes nothing, and a restart on a new day adds
// that day's list.
func (s *Server) loadDemoAppointments(ctx context.Context, demo *synth.DemoPopulation, day time.Time) error {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		london = time.UTC
	}
	y, m, d := day.In(london).Date()
	date := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	id := func(kind string, n int) string { return demoID(fmt.Sprintf("appointments|%s|%s|%d", date, kind, n)) }
	c := demo.Clinician
	gp := fhir.ObjectValue("reference", str("Practitioner/"+c.PractitionerID), "display", str(c.Name))
	scheduleID := demoID("schedule|" + c.PractitionerID)
	var entries []fhir.Value
	put := func(typ, id string, res fhir.Value) {
		entries = append(entries, fhir.ObjectValue("fullUrl", str("urn:uuid:"+id), "resource", res,
			"request", fhir.ObjectValue("method", str("PUT"), "url", str(typ+"/"+id))))
	}
	put("Schedule", scheduleID, fhir.ObjectValue("resourceType", str("Schedule"), "id", str(scheduleID), "active", fhir.BoolValue(true),
		"actor", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{gp}}, "comment", str("Morning surgery")))
	start := time.Date(y, m, d, 9, 0, 0, 0, london)
	booked := map[int]int{}
	for i, slot := range demoSlots {
		if i < len(demo.Patients) {
			booked[slot] = i
		}
	}
	for n := 0; n < 18; n++ {
		t0 := start.Add(time.Duration(n) * 10 * time.Minute)
		t1 := t0.Add(10 * time.Minute)
		status := "free"
		pi, isBooked := booked[n]
		if isBooked {
			status = "busy"
		}
		slotID := id("slot", n)
		put("Slot", slotID, fhir.ObjectValue("resourceType", str("Slot"), "id", str(slotID),
			"schedule", fhir.ObjectValue("reference", str("Schedule/"+scheduleID)), "status", str(status),
			"start", str(t0.Format(time.RFC3339)), "end", str(t1.Format(time.RFC3339))))
		if !isBooked {
			continue
		}
		p := demo.Patients[pi]
		apptID := id("appointment", n)
		put("Appointment", apptID, fhir.ObjectValue("resourceType", str("Appointment"), "id", str(apptID), "status", str("booked"),
			"description", str(demoReasons[pi%len(demoReasons)]),
			"start", str(t0.Format(time.RFC3339)), "end", str(t1.Format(time.RFC3339)),
			"slot", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{fhir.ObjectValue("reference", str("Slot/"+slotID))}},
			"participant", fhir.Value{Kind: fhir.Array, Items: []fhir.Value{
				fhir.ObjectValue("actor", fhir.ObjectValue("reference", str("Patient/"+p.ID), "display", str(p.Name)), "status", str("accepted")),
				fhir.ObjectValue("actor", gp, "status", str("accepted")),
			}}))
	}
	b := fhir.ObjectValue("resourceType", str("Bundle"), "type", str("transaction"), "entry", fhir.Value{Kind: fhir.Array, Items: entries})
	return s.postDemo(ctx, b)
}

// postDemo runs a transaction Bundle through the FHIR API in-process, as
// the demo loader.
func (s *Server) postDemo(ctx context.Context, b fhir.Value) error {
	req, err := http.NewRequestWithContext(auth.NewContext(ctx, loader), http.MethodPost, "/fhir", bytes.NewReader(fhir.Marshal(b)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	rec := &bufferedResponse{header: http.Header{}}
	s.handler.ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		return fmt.Errorf("status %d: %.500s", rec.status, rec.body.String())
	}
	return nil
}

// demoID is a name-based UUID (version 5 layout) for a demo resource.
func demoID(name string) string {
	sum := sha1.Sum([]byte("sharedcare-demo|" + name))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func str(s string) fhir.Value { return fhir.StringValue(s) }
