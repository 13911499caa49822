package synth

// heritage is a naming tradition. Weights follow the ethnic groups of the
// 2021 census of England and Wales roughly; names are common ones of each
// tradition, and British given names follow the decade of birth.
type heritage struct {
	weight       float64
	family       []string
	familyFemale []string  // replaces family for women when set (Kaur, Begum)
	femaleSuffix [2]string // family-name ending that changes for women: -ski → -ska
	male, female []string
	byCohort     bool // given names vary with year of birth (British)
}

var (
	britishFamily = []string{
		"Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
		"Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
		"Lewis", "Harris", "Clarke", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
		"Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James",
		"Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell",
		"Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Miller", "Cox", "Richards",
		"Marshall", "Simpson", "Ellis", "Adams", "Wilkinson", "Foster", "Chapman", "Mason", "Gray", "Webb",
		"Rogers", "Hunt", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
		"Barker", "Fisher", "Stevens", "Jenkins", "Dixon", "Fletcher", "Howard", "Owen", "Pearson", "Gibson",
	}
	// British given names by decade of birth: before 1960, 1960-1989, 1990 on.
	britishMale = [3][]string{
		{"John", "David", "Michael", "Peter", "Robert", "William", "Brian", "Anthony", "Alan", "Kenneth",
			"Roy", "George", "Derek", "Ronald", "Keith", "Colin", "Barry", "Raymond", "Graham", "Terence"},
		{"Paul", "Mark", "Andrew", "Stephen", "Richard", "Christopher", "Darren", "Lee", "Matthew", "Simon",
			"Gary", "Neil", "Jason", "Craig", "Daniel", "James", "Martin", "Ian", "Stuart", "Jonathan"},
		{"Oliver", "George", "Harry", "Jack", "Jacob", "Noah", "Charlie", "Thomas", "Oscar", "William",
			"James", "Leo", "Alfie", "Joshua", "Freddie", "Archie", "Ethan", "Isaac", "Alexander", "Joseph",
			"Liam", "Ryan", "Connor", "Callum"},
	}
	britishFemale = [3][]string{
		{"Margaret", "Patricia", "Jean", "Mary", "Susan", "Barbara", "Linda", "Christine", "Janet", "Sheila",
			"Maureen", "Brenda", "Joan", "Dorothy", "Valerie", "Pauline", "Elizabeth", "Sandra", "Irene", "Joyce"},
		{"Sarah", "Karen", "Julie", "Nicola", "Claire", "Lisa", "Emma", "Joanne", "Helen", "Rachel",
			"Michelle", "Amanda", "Louise", "Laura", "Tracey", "Kelly", "Donna", "Samantha", "Rebecca", "Victoria"},
		{"Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Mia", "Poppy", "Ella",
			"Lily", "Evie", "Isabella", "Sophia", "Jessica", "Chloe", "Charlotte", "Freya", "Holly", "Megan",
			"Hannah", "Lucy", "Ellie", "Abigail"},
	}
)

var heritages = []heritage{
	{weight: 0.770, family: britishFamily, byCohort: true},
	{weight: 0.012, family: []string{"Murphy", "Kelly", "O'Brien", "Byrne", "Ryan", "O'Sullivan", "Walsh", "O'Connor",
		"McCarthy", "Doyle", "Gallagher", "Kennedy", "Quinn", "Brennan"},
		male:   []string{"Sean", "Patrick", "Declan", "Ciaran", "Liam", "Conor", "Niall", "Eoin", "Brendan", "Kieran"},
		female: []string{"Siobhan", "Niamh", "Aoife", "Ciara", "Sinead", "Roisin", "Orla", "Bridget", "Maeve", "Grainne"}},
	{weight: 0.040, family: []string{"Kowalski", "Nowak", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński",
		"Mazur", "Krawczyk", "Popescu", "Ionescu", "Popa"},
		femaleSuffix: [2]string{"ski", "ska"},
		male:         []string{"Piotr", "Krzysztof", "Tomasz", "Marcin", "Paweł", "Michał", "Jakub", "Andrzej", "Andrei", "Mihai"},
		female:       []string{"Anna", "Katarzyna", "Agnieszka", "Magdalena", "Joanna", "Monika", "Ewa", "Zofia", "Elena", "Ioana"}},
	{weight: 0.040, family: []string{"Khan", "Ahmed", "Ali", "Hussain", "Akhtar", "Iqbal", "Mahmood", "Rahman", "Islam",
		"Uddin", "Miah", "Shah", "Malik", "Butt", "Chaudhry", "Rashid"},
		male: []string{"Mohammed", "Muhammad", "Ahmed", "Imran", "Bilal", "Tariq", "Yusuf", "Hamza", "Zain", "Abdul",
			"Rizwan", "Shahid", "Omar", "Ibrahim"},
		female: []string{"Fatima", "Aisha", "Ayesha", "Maryam", "Zainab", "Hira", "Nadia", "Sadia", "Amina", "Shabana",
			"Nasreen", "Rubina", "Samina", "Safiya"}},
	{weight: 0.031, family: []string{"Patel", "Singh", "Sharma", "Kumar", "Gill", "Shah", "Mistry", "Desai", "Parmar",
		"Chauhan", "Sandhu", "Joshi", "Mehta", "Gupta", "Lal"},
		familyFemale: []string{"Patel", "Kaur", "Sharma", "Kumari", "Gill", "Shah", "Mistry", "Desai", "Parmar",
			"Chauhan", "Sandhu", "Joshi", "Mehta", "Gupta", "Kaur"},
		male: []string{"Rajesh", "Sanjay", "Amit", "Vikram", "Arjun", "Rohan", "Anil", "Harjit", "Gurpreet", "Manjit",
			"Deepak", "Ravi", "Sunil", "Ashok"},
		female: []string{"Priya", "Anjali", "Sunita", "Meena", "Neha", "Pooja", "Harpreet", "Jaspreet", "Kiran", "Asha",
			"Nisha", "Rekha"}},
	{weight: 0.025, family: []string{"Okafor", "Adeyemi", "Mensah", "Osei", "Okonkwo", "Adebayo", "Owusu", "Boateng",
		"Mohamed", "Abdi", "Ogunleye", "Nwosu", "Asante", "Eze", "Ibrahim", "Appiah"},
		male: []string{"Chinedu", "Oluwaseun", "Kwame", "Kofi", "Emeka", "Tunde", "Samuel", "Daniel", "David", "Abdi",
			"Mohamed", "Yaw", "Femi", "Joseph"},
		female: []string{"Ngozi", "Chiamaka", "Abena", "Ama", "Funmilayo", "Grace", "Blessing", "Esther", "Amina",
			"Hodan", "Adaeze", "Folake", "Yetunde", "Ruth"}},
	{weight: 0.012, family: []string{"Campbell", "Brown", "Williams", "Thomas", "Francis", "Grant", "Reid", "Henry",
		"Johnson", "Clarke", "Morgan", "Thompson", "Daley", "Gordon", "Baptiste"},
		male: []string{"Winston", "Delroy", "Leroy", "Marcus", "Andre", "Jermaine", "Dwayne", "Tyrone", "Nathan",
			"Jordan", "Devon", "Curtis"},
		female: []string{"Beverley", "Marcia", "Sonia", "Jacqueline", "Shanice", "Tanisha", "Kayla", "Chantelle",
			"Jasmine", "Alicia", "Paulette", "Simone"}},
	{weight: 0.008, family: []string{"Chen", "Wang", "Li", "Zhang", "Liu", "Wong", "Lee", "Chan", "Cheung", "Lam", "Ng",
		"Yang", "Huang", "Lin", "Ho"},
		male:   []string{"Wei", "Jun", "Ming", "Hao", "Jian", "Kevin", "Daniel", "Jason", "Michael", "Tony"},
		female: []string{"Mei", "Ling", "Xin", "Yan", "Li", "Jenny", "Grace", "Amy", "Helen", "Vivian"}},
}

var heritageWeights = func() []float64 {
	w := make([]float64, len(heritages))
	for i, h := range heritages {
		w[i] = h.weight
	}
	return w
}()

// asciiFold maps the letters with diacritics our name lists use to plain
// ASCII, for e-mail addresses.
var asciiFold = map[rune]string{
	'ł': "l", 'ś': "s", 'ń': "n", 'ó': "o", 'ą': "a", 'ę': "e", 'ż': "z", 'ź': "z", 'ć': "c", 'Ł': "L", 'Ś': "S",
}
