package fake

// category mirrors Pluggy's category object. Ids are 8-digit strings whose
// first two digits name the root, the next two the child, and so on, so the
// parent is derived from the id.
type category struct {
	ID                    string  `json:"id"`
	Description           string  `json:"description"`
	DescriptionTranslated string  `json:"descriptionTranslated"`
	ParentID              *string `json:"parentId"`
	ParentDescription     *string `json:"parentDescription"`
}

// categories is the fixed taxonomy served by GET /categories and referenced
// by index from transactions. Parents are filled in by init.
var categories = []category{
	{ID: "01000000", Description: "Income", DescriptionTranslated: "Renda"},
	{ID: "01010000", Description: "Salary", DescriptionTranslated: "Salário"},
	{ID: "01020000", Description: "Retirement", DescriptionTranslated: "Aposentadoria"},
	{ID: "01030000", Description: "Entrepreneurial activities", DescriptionTranslated: "Atividades empresariais"},
	{ID: "01040000", Description: "Government aid", DescriptionTranslated: "Auxílio do governo"},
	{ID: "01050000", Description: "Non-recurring income", DescriptionTranslated: "Renda não-recorrente"},
	{ID: "02000000", Description: "Loans and financing", DescriptionTranslated: "Empréstimos e financiamentos"},
	{ID: "03000000", Description: "Investments", DescriptionTranslated: "Investimentos"},
	{ID: "03010000", Description: "Automatic investment", DescriptionTranslated: "Investimento automático"},
	{ID: "03060000", Description: "Proceeds interests and dividends", DescriptionTranslated: "Juros de rendimentos e dividendos"},
	{ID: "04000000", Description: "Same person transfer", DescriptionTranslated: "Transferência mesma titularidade"},
	{ID: "05000000", Description: "Transfers", DescriptionTranslated: "Transferências"},
	{ID: "05030000", Description: "Transfer - TED", DescriptionTranslated: "Transferência - TED"},
	{ID: "05070000", Description: "Transfer - PIX", DescriptionTranslated: "Transferência - PIX"},
	{ID: "05100000", Description: "Credit card payment", DescriptionTranslated: "Pagamento de cartão de crédito"},
	{ID: "06000000", Description: "Legal obligations", DescriptionTranslated: "Obrigações legais"},
	{ID: "07000000", Description: "Services", DescriptionTranslated: "Serviços"},
	{ID: "07010000", Description: "Telecommunications", DescriptionTranslated: "Telecomunicações"},
	{ID: "08000000", Description: "Shopping", DescriptionTranslated: "Compras"},
	{ID: "08010000", Description: "Online shopping", DescriptionTranslated: "Compras online"},
	{ID: "08020000", Description: "Electronics", DescriptionTranslated: "Eletrônicos"},
	{ID: "09000000", Description: "Digital services", DescriptionTranslated: "Serviços digitais"},
	{ID: "09010000", Description: "Video streaming", DescriptionTranslated: "Streaming de vídeo"},
	{ID: "09020000", Description: "Music streaming", DescriptionTranslated: "Streaming de música"},
	{ID: "10000000", Description: "Groceries", DescriptionTranslated: "Supermercado"},
	{ID: "11000000", Description: "Food and drinks", DescriptionTranslated: "Alimentos e bebidas"},
	{ID: "11010000", Description: "Eating out", DescriptionTranslated: "Restaurantes, bares e lanchonetes"},
	{ID: "11020000", Description: "Food delivery", DescriptionTranslated: "Delivery de alimentos"},
	{ID: "12000000", Description: "Travel", DescriptionTranslated: "Viagens"},
	{ID: "15000000", Description: "Taxes", DescriptionTranslated: "Impostos"},
	{ID: "16000000", Description: "Bank fees", DescriptionTranslated: "Taxas bancárias"},
	{ID: "17000000", Description: "Housing", DescriptionTranslated: "Moradia"},
	{ID: "17020000", Description: "Utilities", DescriptionTranslated: "Serviços de utilidades"},
	{ID: "17020002", Description: "Electricity", DescriptionTranslated: "Eletricidade"},
	{ID: "18000000", Description: "Healthcare", DescriptionTranslated: "Saúde"},
	{ID: "18020000", Description: "Pharmacy", DescriptionTranslated: "Farmácia"},
	{ID: "19000000", Description: "Transportation", DescriptionTranslated: "Transporte"},
	{ID: "19040000", Description: "Taxi and ride-hailing", DescriptionTranslated: "Táxi e transporte privado urbano"},
	{ID: "19050000", Description: "Gas stations", DescriptionTranslated: "Postos de gasolina"},
	{ID: "21000000", Description: "Leisure", DescriptionTranslated: "Lazer"},
}

// categoryIndex maps a category id to its index in categories. It is built
// in a variable initializer, not in init, because the template tables call cat
// while package variables are being initialized.
var categoryIndex = func() map[string]int16 {
	m := make(map[string]int16, len(categories))
	for i := range categories {
		m[categories[i].ID] = int16(i)
	}
	return m
}()

func init() {
	for i := range categories {
		c := &categories[i]
		var parent string
		switch {
		case c.ID[2:] == "000000":
			continue
		case c.ID[4:] == "0000":
			parent = c.ID[:2] + "000000"
		default:
			parent = c.ID[:4] + "0000"
		}
		p := categories[categoryIndex[parent]]
		c.ParentID = ptrStr(p.ID)
		c.ParentDescription = ptrStr(p.Description)
	}
}

// cat returns the index of a category id; it panics on a typo so template
// tables fail loudly at start-up.
func cat(id string) int16 {
	i, ok := categoryIndex[id]
	if !ok {
		panic("fake: unknown category " + id)
	}
	return i
}
