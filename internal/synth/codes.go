package synth

import "sharedcare/internal/nhs"

// Clinical codes. SNOMED CT and LOINC codes are the concepts they name;
// every SNOMED CT and dm+d code here passes nhs.IsSCTConcept (the tests check).

// Chronic conditions and their problem-list codes.
var (
	codeHypertension = sct("38341003", "Hypertensive disorder, systemic arterial")
	codeT2DM         = sct("44054006", "Diabetes mellitus type 2")
	codeAsthma       = sct("195967001", "Asthma")
	codeCOPD         = sct("13645005", "Chronic obstructive lung disease")
	codeDepression   = sct("35489007", "Depressive disorder")
	codeOsteoKnee    = sct("239873007", "Osteoarthritis of knee")
)

// acute is a self-limiting problem seen in general practice.
type acute struct {
	code     code
	text     string
	days     int     // typical duration
	minAge   int     //
	maxAge   int     //
	weight   float64 // relative frequency in its age band
	female   float64 // share of presentations in women; 0.5 if unset
	drug     *drug   // usually prescribed, if any
	drugRate float64 // share of episodes with a prescription
	bp       bool    // blood pressure usually checked
}

var acutes = []acute{
	{code: sct("54150009", "Upper respiratory infection"), text: "Upper respiratory tract infection", days: 7, maxAge: 120, weight: 5, drug: &paracetamol, drugRate: 0.2},
	{code: sct("49727002", "Cough"), text: "Cough", days: 14, maxAge: 120, weight: 3},
	{code: sct("17741008", "Acute tonsillitis"), text: "Acute tonsillitis", days: 7, minAge: 3, maxAge: 40, weight: 2, drug: &amoxicillin, drugRate: 0.6},
	{code: sct("65363002", "Otitis media"), text: "Otitis media", days: 5, maxAge: 10, weight: 4, drug: &amoxicillin, drugRate: 0.3},
	{code: sct("25374005", "Gastroenteritis"), text: "Gastroenteritis", days: 4, maxAge: 120, weight: 2},
	{code: sct("9826008", "Conjunctivitis"), text: "Conjunctivitis", days: 7, maxAge: 120, weight: 1.5},
	{code: sct("43116000", "Eczema"), text: "Eczema", days: 30, maxAge: 30, weight: 1.5},
	{code: sct("68566005", "Urinary tract infectious disease"), text: "Urinary tract infection", days: 5, minAge: 16, maxAge: 120, weight: 3, female: 0.9, drug: &nitrofurantoin, drugRate: 0.85},
	{code: sct("279039007", "Low back pain"), text: "Low back pain", days: 28, minAge: 18, maxAge: 120, weight: 3, drug: &ibuprofen, drugRate: 0.5, bp: true},
	{code: sct("25064002", "Headache"), text: "Headache", days: 5, minAge: 8, maxAge: 120, weight: 1.5, bp: true},
	{code: sct("44465007", "Sprain of ankle"), text: "Sprained ankle", days: 21, minAge: 8, maxAge: 70, weight: 1, drug: &ibuprofen, drugRate: 0.4},
	{code: codeOsteoKnee, text: "Osteoarthritis of knee", days: 90, minAge: 50, maxAge: 120, weight: 2, drug: &paracetamol, drugRate: 0.7, bp: true},
}

// hospitalReason is why someone goes to hospital.
type hospitalReason struct {
	code      code
	text      string
	admit     bool    // inpatient; otherwise seen and discharged from A&E
	minAge    int     //
	needs     int     // a chronic condition the reason needs (asthma attack), or 0
	weight    float64 //
	stayDays  [2]int  // length of stay range for admissions
	infection bool    // raises temperature, white cells and CRP
	specialty code
	drug      *drug  // discharge medication
	plan      string // what happened, for the letter
}

var (
	specGeneralMedicine = sct("394802001", "General medicine")
	specCardiology      = sct("394579002", "Cardiology")
	specRespiratory     = sct("418112009", "Pulmonary medicine")
	specEndocrinology   = sct("394583002", "Endocrinology")
	specOrthopaedics    = sct("394801008", "Trauma & orthopaedics")
	specEmergency       = sct("773568002", "Emergency medicine")
	specGeneralPractice = sct("394814009", "General practice")
)

var hospitalReasons = []hospitalReason{
	{code: sct("29857009", "Chest pain"), text: "Chest pain", minAge: 30, weight: 3, specialty: specCardiology,
		plan: "ECG showed sinus rhythm with no acute changes and serial troponins were not raised. Acute coronary syndrome was excluded. Referred to the rapid access chest pain clinic."},
	{code: sct("82271004", "Injury of head"), text: "Minor head injury", weight: 2, specialty: specEmergency,
		plan: "GCS 15 throughout with no neurological deficit; no indication for CT under NICE head injury guidance. Head injury advice given to the patient and a carer."},
	{code: sct("44465007", "Sprain of ankle"), text: "Sprained ankle", minAge: 8, weight: 2, specialty: specEmergency,
		plan: "Ottawa ankle rules negative so no X-ray was needed. Advised rest, ice, compression and elevation, with simple analgesia.", drug: &ibuprofen},
	{code: sct("128045006", "Cellulitis"), text: "Cellulitis", minAge: 16, weight: 1.5, infection: true, specialty: specGeneralMedicine,
		plan: "Cellulitis of the lower leg, marked and photographed. Treated with oral antibiotics and discharged with safety-netting advice.", drug: &amoxicillin},
	{code: sct("385093006", "Community acquired pneumonia"), text: "Community acquired pneumonia", admit: true, minAge: 55, weight: 2, stayDays: [2]int{3, 9}, infection: true, specialty: specRespiratory,
		plan: "Chest X-ray showed right lower lobe consolidation. CURB-65 score 2. Treated with intravenous then oral antibiotics and supplemental oxygen; observations settled and the patient was mobile on discharge.", drug: &amoxicillin},
	{code: sct("195951007", "Acute exacerbation of chronic obstructive airways disease"), text: "Infective exacerbation of COPD", admit: true, needs: condCOPD, weight: 6, stayDays: [2]int{2, 7}, infection: true, specialty: specRespiratory,
		plan: "Treated with nebulised bronchodilators, oral prednisolone and antibiotics. Oxygen target saturations 88-92%. Inhaler technique reviewed before discharge.", drug: &amoxicillin},
	{code: sct("266364000", "Asthma attack"), text: "Acute asthma", admit: true, needs: condAsthma, weight: 4, stayDays: [2]int{1, 3}, specialty: specRespiratory,
		plan: "Moderate acute asthma treated with nebulised salbutamol and oral prednisolone, with good response. Peak flow over 75% of best on discharge. Asthma action plan reviewed.", drug: &salbutamol},
	{code: sct("5913000", "Fracture of neck of femur"), text: "Fractured neck of femur", admit: true, minAge: 75, weight: 1.5, stayDays: [2]int{7, 21}, specialty: specOrthopaedics,
		plan: "Fall at home. Hip hemiarthroplasty on the day after admission. Mobilising with a frame with physiotherapy; falls assessment done and bone protection to be considered by the GP.", drug: &paracetamol},
	{code: sct("74400008", "Appendicitis"), text: "Acute appendicitis", admit: true, minAge: 10, weight: 1, stayDays: [2]int{2, 4}, infection: true, specialty: specGeneralMedicine,
		plan: "Laparoscopic appendicectomy without complication. Tolerating diet and mobile on discharge. Wound check at the GP practice in 7-10 days.", drug: &paracetamol},
}

// drug is a medicine as prescribed: a dm+d VMP where we could check its code,
// text only otherwise (as UK Core allows for medicines without a dm+d code).
type drug struct {
	dmd, name string
	dose      string // dosage text as a prescriber writes it
	route     code
	perDay    float64 // doses a day, for timing; 0 means as required
	dose1     int     // units per dose
	unit      string  // tablet, capsule, dose
	pack      int     // quantity per issue
	days      int     // supply per issue, or course length for acute
}

var (
	routeOral       = sct("26643006", "Oral route")
	routeInhalation = sct("447694001", "Respiratory tract route")
	routeIM         = sct("78421000", "Intramuscular route")
)

var (
	amlodipine5    = drug{"319283006", "Amlodipine 5mg tablets", "One tablet once a day", routeOral, 1, 1, "tablet", 28, 28}
	amlodipine10   = drug{"319284000", "Amlodipine 10mg tablets", "One tablet once a day", routeOral, 1, 1, "tablet", 28, 28}
	ramipril25     = drug{"318901006", "Ramipril 2.5mg capsules", "One capsule once a day", routeOral, 1, 1, "capsule", 28, 28}
	ramipril5      = drug{"318902004", "Ramipril 5mg capsules", "One capsule once a day", routeOral, 1, 1, "capsule", 28, 28}
	metformin      = drug{"325278007", "Metformin 500mg tablets", "One tablet twice a day with meals", routeOral, 2, 1, "tablet", 56, 28}
	atorvastatin   = drug{"39733011000001106", "Atorvastatin 20mg tablets", "One tablet once a day at night", routeOral, 1, 1, "tablet", 28, 28}
	salbutamol     = drug{"39113611000001102", "Salbutamol 100micrograms/dose inhaler CFC free", "Two puffs when required for breathlessness or wheeze, up to four times a day", routeInhalation, 0, 2, "dose", 200, 30}
	sertraline     = drug{"", "Sertraline 50mg tablets", "One tablet once a day", routeOral, 1, 1, "tablet", 28, 28}
	amoxicillin    = drug{"323510009", "Amoxicillin 500mg capsules", "One capsule three times a day for 5 days", routeOral, 3, 1, "capsule", 15, 5}
	nitrofurantoin = drug{"", "Nitrofurantoin 100mg modified-release capsules", "One capsule twice a day for 3 days", routeOral, 2, 1, "capsule", 6, 3}
	clarithromycin = drug{"", "Clarithromycin 500mg tablets", "One tablet twice a day for 5 days", routeOral, 2, 1, "tablet", 10, 5}
	paracetamol    = drug{"322236009", "Paracetamol 500mg tablets", "Two tablets up to four times a day when required for pain", routeOral, 0, 2, "tablet", 32, 4}
	ibuprofen      = drug{"329653008", "Ibuprofen 400mg tablets", "One tablet three times a day with food when required", routeOral, 0, 1, "tablet", 24, 8}
)

// Observation codes: LOINC, with the SNOMED CT observable where UK records use one.
var (
	obsBP          = []code{loinc("85354-9", "Blood pressure panel with all children optional"), sct("75367002", "Blood pressure")}
	obsSystolic    = []code{loinc("8480-6", "Systolic blood pressure"), sct("271649006", "Systolic blood pressure")}
	obsDiastolic   = []code{loinc("8462-4", "Diastolic blood pressure"), sct("271650006", "Diastolic blood pressure")}
	obsHeartRate   = []code{loinc("8867-4", "Heart rate"), sct("364075005", "Heart rate")}
	obsWeight      = []code{loinc("29463-7", "Body weight"), sct("27113001", "Body weight")}
	obsHeight      = []code{loinc("8302-2", "Body height"), sct("50373000", "Body height")}
	obsBMI         = []code{loinc("39156-5", "Body mass index (BMI) [Ratio]"), sct("60621009", "Body mass index")}
	obsTemperature = []code{loinc("8310-5", "Body temperature")}
	obsRespRate    = []code{loinc("9279-1", "Respiratory rate")}
	obsSpO2        = []code{loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")}
	obsSmoking     = []code{loinc("72166-2", "Tobacco smoking status")}
	obsPHQ9        = []code{loinc("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]")}
	obsHbA1c       = []code{loinc("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol"), sct("999791000000106", "Haemoglobin A1c level - International Federation of Clinical Chemistry and Laboratory Medicine standardised")}
	obsCholesterol = []code{loinc("14647-2", "Cholesterol [Moles/volume] in Serum or Plasma")}
	obsHDL         = []code{loinc("14646-4", "Cholesterol in HDL [Moles/volume] in Serum or Plasma")}
	obsLDL         = []code{loinc("22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma")}
	obsTriglycer   = []code{loinc("14927-8", "Triglyceride [Moles/volume] in Serum or Plasma")}
	obsSodium      = []code{loinc("2951-2", "Sodium [Moles/volume] in Serum or Plasma")}
	obsPotassium   = []code{loinc("2823-3", "Potassium [Moles/volume] in Serum or Plasma")}
	obsUrea        = []code{loinc("22664-7", "Urea [Moles/volume] in Serum or Plasma")}
	obsCreatinine  = []code{loinc("14682-9", "Creatinine [Moles/volume] in Serum or Plasma")}
	obsEGFR        = []code{loinc("62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)")}
	obsCRP         = []code{loinc("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma")}
	obsHaemoglobin = []code{loinc("718-7", "Hemoglobin [Mass/volume] in Blood")}
	obsWBC         = []code{loinc("6690-2", "Leukocytes [#/volume] in Blood by Automated count")}
	obsPlatelets   = []code{loinc("777-3", "Platelets [#/volume] in Blood by Automated count")}
)

// Lab report codes: LOINC panels, and the service section of HL7 v2 table 0074.
var (
	panelLipids        = loinc("24331-1", "Lipid 1996 panel - Serum or Plasma")
	panelRenal         = loinc("24362-6", "Renal function 2000 panel - Serum or Plasma")
	panelHbA1c         = loinc("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol")
	panelFBC           = loinc("58410-2", "CBC panel - Blood by Automated count")
	panelBiochemistry  = loinc("11502-2", "Laboratory report")
	sectionChemistry   = code{systemDiagnosticService, "CH", "Chemistry"}
	sectionHaematology = code{systemDiagnosticService, "HM", "Hematology"}
)

var (
	smokingNever   = sct("266919005", "Never smoked tobacco")
	smokingEx      = sct("8517006", "Ex-smoker")
	smokingCurrent = sct("77176002", "Smoker")
)

// Encounter types.
var (
	encConsultation = sct("11429006", "Consultation")
	encTelephone    = sct("185317003", "Telephone encounter")
	encFollowUp     = sct("390906007", "Follow-up encounter")
	encAdmission    = sct("32485007", "Hospital admission")
	encEmergency    = sct("4525004", "Emergency department patient visit")
	encCheckUp      = sct("185349003", "Encounter for check up")
)

// Allergies.
var (
	allergyPenicillin = sct("91936005", "Allergy to penicillin")
	allergyPeanut     = sct("91935009", "Allergy to peanuts")
	allergyNKDA       = sct("409137002", "No known drug allergy")
	reactionRash      = sct("271807003", "Eruption of skin")
	reactionUrticaria = sct("126485001", "Urticaria")
	reactionAnaphylax = sct("39579001", "Anaphylaxis")
)

// vaccine is a vaccine as given: CVX always, SNOMED CT where we could check it.
type vaccine struct {
	text  string
	cvx   code
	sct   code // zero when not coded
	route code
	dose  string // mL, as a decimal literal
}

var (
	vaccineFlu = vaccine{"Influenza vaccine", code{systemCVX, "150", "Influenza, injectable, quadrivalent, preservative free"},
		sct("1181000221105", "Influenza vaccine"), routeIM, "0.5"}
	vaccinePPV = vaccine{"Pneumococcal polysaccharide vaccine (PPV23)", code{systemCVX, "33", "pneumococcal polysaccharide vaccine, 23 valent"},
		code{}, routeIM, "0.5"}
	vaccineShingles = vaccine{"Shingles vaccine (recombinant)", code{systemCVX, "187", "zoster vaccine recombinant"},
		code{}, routeIM, "0.5"}
	vaccineHexavalent = vaccine{"6-in-1 vaccine (DTaP/IPV/Hib/HepB)", code{systemCVX, "146", "Diphtheria and Tetanus Toxoids and Acellular Pertussis Adsorbed, Inactivated Poliovirus, Haemophilus b Conjugate (Meningococcal Protein Conjugate), and Hepatitis B (Recombinant) Vaccine"},
		code{}, routeIM, "0.5"}
	vaccineRotavirus = vaccine{"Rotavirus vaccine", code{systemCVX, "119", "rotavirus, monovalent"},
		code{}, routeOral, "1.5"}
	vaccineMenB = vaccine{"MenB vaccine", code{systemCVX, "163", "meningococcal B vaccine, recombinant, OMV, adjuvanted"},
		code{}, routeIM, "0.5"}
	vaccinePCV = vaccine{"Pneumococcal conjugate vaccine (PCV13)", code{systemCVX, "133", "pneumococcal conjugate vaccine, 13 valent"},
		code{}, routeIM, "0.5"}
	vaccineMMR = vaccine{"MMR vaccine", code{systemCVX, "03", "measles, mumps and rubella virus vaccine"},
		sct("61153008", "Measles, mumps and rubella vaccine"), routeIM, "0.5"}
	vaccinePreschool = vaccine{"4-in-1 pre-school booster (DTaP/IPV)", code{systemCVX, "130", "Diphtheria, tetanus toxoids and acellular pertussis vaccine, and poliovirus vaccine, inactivated"},
		code{}, routeIM, "0.5"}
	vaccineHPV = vaccine{"HPV vaccine", code{systemCVX, "165", "Human Papillomavirus 9-valent vaccine"},
		code{}, routeIM, "0.5"}
	vaccineMenACWY = vaccine{"MenACWY vaccine", code{systemCVX, "108", "meningococcal ACWY vaccine, unspecified formulation"},
		code{}, routeIM, "0.5"}
)

var (
	siteLeftArm  = sct("368208006", "Left upper arm structure")
	siteRightArm = sct("368209003", "Right upper arm structure")
)

// Staff roles.
var (
	roleGP        = sct("62247001", "General practitioner")
	roleDoctor    = sct("158965000", "Medical practitioner")
	roleNurse     = sct("224535009", "Registered nurse")
	orgProvider   = code{systemOrganizationType, "prov", "Healthcare Provider"}
	documentTypes = struct{ discharge, clinic code }{
		sct("373942005", "Discharge summary"),
		sct("371531000", "Report of clinical encounter"),
	}
)

// allCodes lists every code this file defines, for the test that checks
// their form.
func allCodes() []code {
	cs := []code{codeHypertension, codeT2DM, codeAsthma, codeCOPD, codeDepression, codeOsteoKnee,
		specGeneralMedicine, specCardiology, specRespiratory, specEndocrinology, specOrthopaedics, specEmergency, specGeneralPractice,
		routeOral, routeInhalation, routeIM, smokingNever, smokingEx, smokingCurrent,
		encConsultation, encTelephone, encFollowUp, encAdmission, encEmergency, encCheckUp,
		allergyPenicillin, allergyPeanut, allergyNKDA, reactionRash, reactionUrticaria, reactionAnaphylax,
		siteLeftArm, siteRightArm, roleGP, roleDoctor, roleNurse, documentTypes.discharge, documentTypes.clinic,
		panelLipids, panelRenal, panelHbA1c, panelFBC, panelBiochemistry}
	for _, a := range acutes {
		cs = append(cs, a.code)
	}
	for _, h := range hospitalReasons {
		cs = append(cs, h.code, h.specialty)
	}
	for _, obs := range [][]code{obsBP, obsSystolic, obsDiastolic, obsHeartRate, obsWeight, obsHeight, obsBMI,
		obsTemperature, obsRespRate, obsSpO2, obsSmoking, obsPHQ9, obsHbA1c, obsCholesterol, obsHDL, obsLDL,
		obsTriglycer, obsSodium, obsPotassium, obsUrea, obsCreatinine, obsEGFR, obsCRP, obsHaemoglobin, obsWBC, obsPlatelets} {
		cs = append(cs, obs...)
	}
	for _, d := range []drug{amlodipine5, amlodipine10, ramipril25, ramipril5, metformin, atorvastatin, salbutamol,
		sertraline, amoxicillin, nitrofurantoin, clarithromycin, paracetamol, ibuprofen} {
		if d.dmd != "" {
			cs = append(cs, code{nhs.DMDSystem, d.dmd, d.name})
		}
	}
	for _, v := range []vaccine{vaccineFlu, vaccinePPV, vaccineShingles, vaccineHexavalent, vaccineRotavirus, vaccineMenB,
		vaccinePCV, vaccineMMR, vaccinePreschool, vaccineHPV, vaccineMenACWY} {
		if v.sct.code != "" {
			cs = append(cs, v.sct)
		}
	}
	return cs
}
