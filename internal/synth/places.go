package synth

// town is a real English town or city with real postcode districts. The
// street names are common English ones and the inward halves of postcodes
// are random, so an address has the right format without being anyone's.
type town struct {
	name, county string
	districts    []string // postcode outward codes
	// phone is the start of a number in the range Ofcom keeps for drama
	// and fiction, so no generated number rings anyone; three digits follow.
	phone string
	// practice is the letter and two digits that start the ODS codes of the
	// town's GP practices, as its region's codes do.
	practice string
	trust    trust
}

// trust is the NHS trust that runs the town's main hospital. Codes and names
// are the real, public ODS entries.
type trust struct {
	code, name, hospital string
}

var towns = []town{
	{"Leeds", "West Yorkshire", []string{"LS1", "LS2", "LS6", "LS7", "LS8", "LS11", "LS12", "LS15", "LS17", "LS28"}, "0113 496 0", "B86",
		trust{"RR8", "Leeds Teaching Hospitals NHS Trust", "St James's University Hospital"}},
	{"Sheffield", "South Yorkshire", []string{"S1", "S2", "S5", "S6", "S8", "S10", "S11", "S17", "S35"}, "0114 496 0", "C88",
		trust{"RHQ", "Sheffield Teaching Hospitals NHS Foundation Trust", "Northern General Hospital"}},
	{"Manchester", "Greater Manchester", []string{"M1", "M4", "M8", "M13", "M14", "M16", "M20", "M21", "M40"}, "0161 496 0", "P84",
		trust{"R0A", "Manchester University NHS Foundation Trust", "Manchester Royal Infirmary"}},
	{"Liverpool", "Merseyside", []string{"L1", "L4", "L6", "L8", "L13", "L15", "L17", "L18", "L25"}, "0151 496 0", "N82",
		trust{"REM", "Liverpool University Hospitals NHS Foundation Trust", "Royal Liverpool University Hospital"}},
	{"Birmingham", "West Midlands", []string{"B1", "B5", "B11", "B13", "B15", "B23", "B29", "B30", "B44"}, "0121 496 0", "M85",
		trust{"RRK", "University Hospitals Birmingham NHS Foundation Trust", "Queen Elizabeth Hospital Birmingham"}},
	{"Newcastle upon Tyne", "Tyne and Wear", []string{"NE1", "NE2", "NE3", "NE4", "NE5", "NE6", "NE7", "NE15"}, "0191 498 0", "A86",
		trust{"RTD", "The Newcastle upon Tyne Hospitals NHS Foundation Trust", "Royal Victoria Infirmary"}},
	{"Bristol", "City of Bristol", []string{"BS1", "BS3", "BS5", "BS6", "BS7", "BS8", "BS9", "BS16"}, "0117 496 0", "L81",
		trust{"RA7", "University Hospitals Bristol and Weston NHS Foundation Trust", "Bristol Royal Infirmary"}},
	{"Nottingham", "Nottinghamshire", []string{"NG1", "NG2", "NG3", "NG5", "NG7", "NG8", "NG9"}, "0115 496 0", "C84",
		trust{"RX1", "Nottingham University Hospitals NHS Trust", "Queen's Medical Centre"}},
	{"Leicester", "Leicestershire", []string{"LE1", "LE2", "LE3", "LE4", "LE5"}, "0116 496 0", "C82",
		trust{"RWE", "University Hospitals of Leicester NHS Trust", "Leicester Royal Infirmary"}},
	{"London", "Greater London", []string{"SE1", "SE5", "SE11", "SE15", "SE17", "SE22", "SW2", "SW9"}, "020 7946 0", "G85",
		trust{"RJ1", "Guy's and St Thomas' NHS Foundation Trust", "St Thomas' Hospital"}},
	{"London", "Greater London", []string{"NW1", "NW3", "NW5", "N7", "N19", "WC1H"}, "020 7946 0", "F83",
		trust{"RAL", "Royal Free London NHS Foundation Trust", "Royal Free Hospital"}},
	{"Oxford", "Oxfordshire", []string{"OX1", "OX2", "OX3", "OX4"}, "01632 960", "K84",
		trust{"RTH", "Oxford University Hospitals NHS Foundation Trust", "John Radcliffe Hospital"}},
	{"Cambridge", "Cambridgeshire", []string{"CB1", "CB2", "CB4", "CB5"}, "01632 960", "D81",
		trust{"RGT", "Cambridge University Hospitals NHS Foundation Trust", "Addenbrooke's Hospital"}},
	{"Southampton", "Hampshire", []string{"SO14", "SO15", "SO16", "SO17", "SO19"}, "01632 960", "J82",
		trust{"RHM", "University Hospital Southampton NHS Foundation Trust", "Southampton General Hospital"}},
	{"Plymouth", "Devon", []string{"PL1", "PL2", "PL4", "PL5", "PL6"}, "01632 960", "L83",
		trust{"RK9", "University Hospitals Plymouth NHS Trust", "Derriford Hospital"}},
	{"Bradford", "West Yorkshire", []string{"BD1", "BD3", "BD5", "BD7", "BD8", "BD9"}, "01632 960", "B83",
		trust{"RAE", "Bradford Teaching Hospitals NHS Foundation Trust", "Bradford Royal Infirmary"}},
	{"Hull", "East Riding of Yorkshire", []string{"HU1", "HU3", "HU5", "HU6", "HU8", "HU9"}, "01632 960", "B81",
		trust{"RWA", "Hull University Teaching Hospitals NHS Trust", "Hull Royal Infirmary"}},
	{"Norwich", "Norfolk", []string{"NR1", "NR2", "NR3", "NR4", "NR5"}, "01632 960", "D82",
		trust{"RM1", "Norfolk and Norwich University Hospitals NHS Foundation Trust", "Norfolk and Norwich University Hospital"}},
	{"Stoke-on-Trent", "Staffordshire", []string{"ST1", "ST3", "ST4", "ST6"}, "01632 960", "M83",
		trust{"RJE", "University Hospitals of North Midlands NHS Trust", "Royal Stoke University Hospital"}},
	{"Preston", "Lancashire", []string{"PR1", "PR2"}, "01632 960", "P81",
		trust{"RXN", "Lancashire Teaching Hospitals NHS Foundation Trust", "Royal Preston Hospital"}},
	{"Coventry", "West Midlands", []string{"CV1", "CV2", "CV3", "CV5", "CV6"}, "01632 960", "M86",
		trust{"RKB", "University Hospitals Coventry and Warwickshire NHS Trust", "University Hospital Coventry"}},
	{"York", "North Yorkshire", []string{"YO1", "YO10", "YO24", "YO26", "YO31"}, "01632 960", "B82",
		trust{"RCB", "York and Scarborough Teaching Hospitals NHS Foundation Trust", "York Hospital"}},
}

var streets = []string{
	"High Street", "Station Road", "Church Street", "Park Road", "Victoria Road", "Green Lane",
	"Manor Road", "Church Lane", "Park Avenue", "The Avenue", "Queens Road", "New Road",
	"Grange Road", "Kings Road", "Stanley Road", "Windsor Road", "Mill Lane", "North Street",
	"School Lane", "Springfield Road", "Albert Road", "Richmond Road", "Highfield Road", "York Road",
	"London Road", "Main Street", "Alexandra Road", "George Street", "Chester Road", "Derby Road",
	"Oxford Road", "Cambridge Road", "Westfield Road", "Mount Pleasant", "Beech Grove", "Elm Close",
	"Oak Avenue", "Willow Court", "Meadow Way", "Orchard Close", "Chapel Street", "Broadway",
	"Cromwell Road", "Hawthorn Drive", "Rectory Lane", "Vicarage Road", "Moor Lane", "Brook Street",
}

// Letters Royal Mail uses in the inward half of a postcode: never C, I, K,
// M, O or V.
const inwardLetters = "ABDEFGHJLNPQRSTUWXYZ"

var practiceStems = []string{
	"Park View", "Riverside", "Oakwood", "St Mark's", "Church Lane", "Valley", "Meadowbank",
	"Beech House", "The Grange", "Woodlands", "Northgate", "Kirkgate", "Highfield", "Elm Tree",
	"Moorland", "Willow Bank", "Abbey", "Parkside", "Station Road", "Millbrook", "Hillside",
	"Lakeside", "Castle", "Bridge Street", "Fairfield", "Greenway", "Ashfield", "Cedar",
}

var practiceKinds = []string{"Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice"}
