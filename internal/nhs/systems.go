package nhs

// Identifier and code systems as UK Core names them
// (https://simplifier.net/guide/ukcoreversionhistory).
const (
	// NHSNumberSystem is Patient.identifier.system for an NHS number.
	NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"
	// ODSSystem is Organization.identifier.system for an ODS organisation code.
	ODSSystem = "https://fhir.nhs.uk/Id/ods-organization-code"
	// ODSSiteSystem is the system for an ODS site code (a trust's hospital).
	ODSSiteSystem = "https://fhir.nhs.uk/Id/ods-site-code"
	// SDSUserIDSystem identifies a user of NHS national services (a
	// Practitioner.identifier).
	SDSUserIDSystem = "https://fhir.nhs.uk/Id/sds-user-id"

	// SNOMEDSystem is SNOMED CT, UK edition included.
	SNOMEDSystem = "http://snomed.info/sct"
	// DMDSystem is the NHS Dictionary of Medicines and Devices; its codes are
	// SNOMED CT identifiers.
	DMDSystem = "https://dmd.nhs.uk"
	// LOINCSystem is LOINC, used here for observations and lab panels.
	LOINCSystem = "http://loinc.org"
	// UCUMSystem is the Unified Code for Units of Measure, for Quantity.system.
	UCUMSystem = "http://unitsofmeasure.org"

	// NHSNumberVerificationStatusURL is the UK Core extension on an NHS
	// number identifier saying how far the number was traced and verified.
	NHSNumberVerificationStatusURL = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
	// NHSNumberVerificationStatusSystem is the code system for that
	// extension's value: "01" is "Number present and verified".
	NHSNumberVerificationStatusSystem = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
