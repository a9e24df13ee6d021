package fake

import (
	"encoding/json"
	"strconv"
)

// Wire types for everything except transactions (which have a hand-written
// encoder, see encode.go). Field order follows the reference payloads;
// pointer fields are the nullable ones and are written as null, not omitted.

type connectorJSON struct {
	ID                        int              `json:"id"`
	Name                      string           `json:"name"`
	InstitutionURL            string           `json:"institutionUrl"`
	ImageURL                  string           `json:"imageUrl"`
	PrimaryColor              string           `json:"primaryColor"`
	Type                      string           `json:"type"`
	Country                   string           `json:"country"`
	Credentials               []credentialJSON `json:"credentials"`
	HasMFA                    bool             `json:"hasMFA"`
	OAuth                     bool             `json:"oauth"`
	Health                    healthJSON       `json:"health"`
	Products                  []string         `json:"products"`
	IsSandbox                 bool             `json:"isSandbox"`
	IsOpenFinance             bool             `json:"isOpenFinance"`
	SupportsPaymentInitiation bool             `json:"supportsPaymentInitiation"`
	SupportsScheduledPayments bool             `json:"supportsScheduledPayments"`
	SupportsSmartTransfers    bool             `json:"supportsSmartTransfers"`
	SupportsBoletoManagement  bool             `json:"supportsBoletoManagement"`
	SupportsAutomaticPix      bool             `json:"supportsAutomaticPix"`
	CreatedAt                 string           `json:"createdAt"`
	UpdatedAt                 string           `json:"updatedAt"`
}

type credentialJSON struct {
	Label      string `json:"label"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Validation string `json:"validation"`
	Optional   bool   `json:"optional"`
}

type healthJSON struct {
	Status string  `json:"status"`
	Stage  *string `json:"stage"`
}

// pluggyBank is the sandbox connector every item uses (id 0, as in the
// official SDK's 2026 live tests).
var pluggyBank = connectorJSON{
	ID: 0, Name: "Pluggy Bank", InstitutionURL: "https://pluggy.ai",
	ImageURL:     "https://cdn.pluggy.ai/assets/connector-icons/sandbox.svg",
	PrimaryColor: "ef294b", Type: "PERSONAL_BANK", Country: "BR",
	Credentials: []credentialJSON{
		{Label: "User", Name: "user", Type: "text", Validation: "^user-.{2,50}$"},
		{Label: "Password", Name: "password", Type: "password", Validation: "^.{6,20}$"},
	},
	Health:    healthJSON{Status: "ONLINE"},
	Products:  []string{"ACCOUNTS", "CREDIT_CARDS", "TRANSACTIONS", "PAYMENT_DATA", "INVESTMENTS", "INVESTMENTS_TRANSACTIONS", "IDENTITY", "LOANS"},
	IsSandbox: true,
	CreatedAt: "2020-09-07T00:08:06.588Z", UpdatedAt: "2024-11-26T13:33:44.296Z",
}

type itemJSON struct {
	ID                             string            `json:"id"`
	Connector                      *connectorJSON    `json:"connector"`
	Status                         string            `json:"status"`
	ExecutionStatus                string            `json:"executionStatus"`
	Error                          *itemErrorJSON    `json:"error"`
	StatusDetail                   *statusDetailJSON `json:"statusDetail"`
	CreatedAt                      jsTime            `json:"createdAt"`
	UpdatedAt                      jsTime            `json:"updatedAt"`
	LastUpdatedAt                  *jsTime           `json:"lastUpdatedAt"`
	Parameter                      *struct{}         `json:"parameter"`
	UserAction                     *struct{}         `json:"userAction"`
	WebhookURL                     *string           `json:"webhookUrl"`
	ClientUserID                   *string           `json:"clientUserId"`
	ConsecutiveFailedLoginAttempts int               `json:"consecutiveFailedLoginAttempts"`
	NextAutoSyncAt                 *jsTime           `json:"nextAutoSyncAt"`
	ConsentExpiresAt               *jsTime           `json:"consentExpiresAt"`
	Products                       []string          `json:"products"`
}

type itemErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type productStatusJSON struct {
	IsUpdated     bool          `json:"isUpdated"`
	LastUpdatedAt *jsTime       `json:"lastUpdatedAt"`
	Warnings      []warningJSON `json:"warnings,omitempty"`
}

type warningJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusDetailJSON spells investmentsTransactions as the OAS and real
// payloads do, or investmentTransactions as the SDK type does
// (Options.StatusDetailSDKSpelling): exactly one of the two is set.
type statusDetailJSON struct {
	Accounts                *productStatusJSON `json:"accounts"`
	CreditCards             *productStatusJSON `json:"creditCards"`
	Transactions            *productStatusJSON `json:"transactions"`
	Investments             *productStatusJSON `json:"investments"`
	InvestmentsTransactions *productStatusJSON `json:"investmentsTransactions,omitempty"`
	InvestmentTransactions  *productStatusJSON `json:"investmentTransactions,omitempty"`
	Identity                *productStatusJSON `json:"identity"`
	PaymentData             *productStatusJSON `json:"paymentData"`
	Loans                   *productStatusJSON `json:"loans"`
	AccountStatements       *productStatusJSON `json:"accountStatements"`
}

type accountJSON struct {
	ID            string          `json:"id"`
	ItemID        string          `json:"itemId"`
	Type          string          `json:"type"`
	Subtype       string          `json:"subtype"`
	Number        string          `json:"number"`
	Name          string          `json:"name"`
	MarketingName *string         `json:"marketingName"`
	Balance       money           `json:"balance"`
	CurrencyCode  string          `json:"currencyCode"`
	Owner         *string         `json:"owner"`
	TaxNumber     *string         `json:"taxNumber"`
	BankData      *bankDataJSON   `json:"bankData"`
	CreditData    *creditDataJSON `json:"creditData"`
	CreatedAt     jsTime          `json:"createdAt"`
	UpdatedAt     jsTime          `json:"updatedAt"`
}

type bankDataJSON struct {
	TransferNumber               string    `json:"transferNumber"`
	ClosingBalance               money     `json:"closingBalance"`
	AutomaticallyInvestedBalance *money    `json:"automaticallyInvestedBalance"`
	OverdraftContractedLimit     money     `json:"overdraftContractedLimit"`
	OverdraftUsedLimit           money     `json:"overdraftUsedLimit"`
	UnarrangedOverdraftAmount    money     `json:"unarrangedOverdraftAmount"`
	HasReservedBalance           bool      `json:"hasReservedBalance"`
	ReservedBalances             *struct{} `json:"reservedBalances"`
}

// creditDataJSON writes balanceCloseDate/balanceDueDate date-only, as in the
// spec example.
type creditDataJSON struct {
	Level                  string `json:"level"`
	Brand                  string `json:"brand"`
	BalanceCloseDate       string `json:"balanceCloseDate"`
	BalanceDueDate         string `json:"balanceDueDate"`
	AvailableCreditLimit   money  `json:"availableCreditLimit"`
	BalanceForeignCurrency money  `json:"balanceForeignCurrency"`
	MinimumPayment         money  `json:"minimumPayment"`
	CreditLimit            money  `json:"creditLimit"`
	IsLimitFlexible        bool   `json:"isLimitFlexible"`
	Status                 string `json:"status"`
	HolderType             string `json:"holderType"`
}

// billJSON writes dueDate either as a full timestamp or, on odd bills,
// without millis and Z ("2026-07-20T00:00:00") as in the spec example.
type billJSON struct {
	ID                      string              `json:"id"`
	AccountID               string              `json:"accountId"`
	DueDate                 string              `json:"dueDate"`
	BillClosingDate         *jsTime             `json:"billClosingDate"`
	TotalAmount             money               `json:"totalAmount"`
	TotalAmountCurrencyCode string              `json:"totalAmountCurrencyCode"`
	MinimumPaymentAmount    *money              `json:"minimumPaymentAmount"`
	AllowsInstallments      *bool               `json:"allowsInstallments"`
	FinanceCharges          []financeChargeJSON `json:"financeCharges"`
	Payments                []billPaymentJSON   `json:"payments"`
	CreatedAt               jsTime              `json:"createdAt"`
	UpdatedAt               jsTime              `json:"updatedAt"`
}

type financeChargeJSON struct {
	ID               string  `json:"id"`
	Type             string  `json:"type"`
	Amount           money   `json:"amount"`
	CurrencyCode     string  `json:"currencyCode"`
	AdditionalInfo   *string `json:"additionalInfo"`
	CreditCardBillID string  `json:"creditCardBillId"`
}

type billPaymentJSON struct {
	ID           string  `json:"id"`
	ValueType    string  `json:"valueType"`
	PaymentDate  jsTime  `json:"paymentDate"`
	PaymentMode  *string `json:"paymentMode"`
	Amount       money   `json:"amount"`
	CurrencyCode string  `json:"currencyCode"`
}

type institutionJSON struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type investmentMetadataJSON struct {
	TaxRegime      *string `json:"taxRegime"`
	ProposalNumber *string `json:"proposalNumber"`
	ProcessNumber  *string `json:"processNumber"`
}

type investmentJSON struct {
	ID                   string                  `json:"id"`
	ItemID               string                  `json:"itemId"`
	Type                 string                  `json:"type"`
	Subtype              *string                 `json:"subtype"`
	Code                 *string                 `json:"code"`
	ISIN                 *string                 `json:"isin"`
	Name                 string                  `json:"name"`
	Number               *string                 `json:"number"`
	Owner                *string                 `json:"owner"`
	CurrencyCode         string                  `json:"currencyCode"`
	Date                 *jsTime                 `json:"date"`
	Value                *decimal                `json:"value"`
	Quantity             *decimal                `json:"quantity"`
	Amount               *decimal                `json:"amount"`
	Balance              decimal                 `json:"balance"`
	AmountOriginal       *decimal                `json:"amountOriginal"`
	AmountProfit         *decimal                `json:"amountProfit"`
	AmountWithdrawal     *decimal                `json:"amountWithdrawal"`
	Taxes                *decimal                `json:"taxes"`
	Taxes2               *decimal                `json:"taxes2"`
	DueDate              *jsTime                 `json:"dueDate"`
	IssueDate            *jsTime                 `json:"issueDate"`
	PurchaseDate         *jsTime                 `json:"purchaseDate"`
	Issuer               *string                 `json:"issuer"`
	IssuerCNPJ           *string                 `json:"issuerCNPJ"`
	Rate                 *decimal                `json:"rate"`
	RateType             *string                 `json:"rateType"`
	FixedAnnualRate      *decimal                `json:"fixedAnnualRate"`
	LastMonthRate        *decimal                `json:"lastMonthRate"`
	AnnualRate           *decimal                `json:"annualRate"`
	LastTwelveMonthsRate *decimal                `json:"lastTwelveMonthsRate"`
	Status               string                  `json:"status"`
	Institution          *institutionJSON        `json:"institution"`
	Metadata             *investmentMetadataJSON `json:"metadata"`
	// Transactions is the legacy embedded list of the investment's
	// movements: null for applications created after 2023-03-20, the
	// movements themselves for older ones (Options.LegacyInvestmentTransactions).
	Transactions *[]investmentTxnJSON `json:"transactions"`
}

// investmentTxnJSON has no investmentId by default: the API omits it and
// the connector is expected to add it. With Options.InvestmentIDNull it
// carries "investmentId": null, as the Node SDK types it (string | null).
type investmentTxnJSON struct {
	ID              string          `json:"id"`
	InvestmentID    json.RawMessage `json:"investmentId,omitempty"`
	Type            string          `json:"type"`
	MovementType    string          `json:"movementType"`
	Description     string          `json:"description"`
	Quantity        *decimal        `json:"quantity"`
	Value           *decimal        `json:"value"`
	Amount          decimal         `json:"amount"`
	NetAmount       *decimal        `json:"netAmount"`
	Date            jsTime          `json:"date"`
	TradeDate       jsTime          `json:"tradeDate"`
	BrokerageNumber *string         `json:"brokerageNumber"`
	AgreedRate      *decimal        `json:"agreedRate"`
	Expenses        *expensesJSON   `json:"expenses"`
}

type expensesJSON struct {
	ServiceTax             *money `json:"serviceTax"`
	BrokerageFee           *money `json:"brokerageFee"`
	IncomeTax              *money `json:"incomeTax"`
	Other                  *money `json:"other"`
	TradingAssetsNoticeFee *money `json:"tradingAssetsNoticeFee"`
	MaintenanceFee         *money `json:"maintenanceFee"`
	SettlementFee          *money `json:"settlementFee"`
	ClearingFee            *money `json:"clearingFee"`
	StockExchangeFee       *money `json:"stockExchangeFee"`
	CustodyFee             *money `json:"custodyFee"`
	OperatingFee           *money `json:"operatingFee"`
}

// investment pairs the served object with its transaction list.
type investment struct {
	id   uuid
	json investmentJSON
	txns []investmentTxnJSON
}

type loanJSON struct {
	ID                                   string                 `json:"id"`
	ItemID                               string                 `json:"itemId"`
	ContractNumber                       string                 `json:"contractNumber"`
	IpocCode                             string                 `json:"ipocCode"`
	ProductName                          string                 `json:"productName"`
	Type                                 string                 `json:"type"`
	Kind                                 string                 `json:"kind"`
	Date                                 jsTime                 `json:"date"`
	ContractDate                         jsTime                 `json:"contractDate"`
	DisbursementDates                    []jsTime               `json:"disbursementDates"`
	SettlementDate                       jsTime                 `json:"settlementDate"`
	ContractAmount                       money                  `json:"contractAmount"`
	CurrencyCode                         string                 `json:"currencyCode"`
	DueDate                              jsTime                 `json:"dueDate"`
	InstallmentPeriodicity               string                 `json:"installmentPeriodicity"`
	InstallmentPeriodicityAdditionalInfo *string                `json:"installmentPeriodicityAdditionalInfo"`
	FirstInstallmentDueDate              jsTime                 `json:"firstInstallmentDueDate"`
	CET                                  decimal                `json:"CET"`
	AmortizationScheduled                string                 `json:"amortizationScheduled"`
	AmortizationScheduledAdditionalInfo  *string                `json:"amortizationScheduledAdditionalInfo"`
	CnpjConsignee                        *string                `json:"cnpjConsignee"`
	InterestRates                        []loanInterestRateJSON `json:"interestRates"`
	ContractedFees                       []loanFeeJSON          `json:"contractedFees"`
	ContractedFinanceCharges             []loanChargeJSON       `json:"contractedFinanceCharges"`
	Warranties                           []loanWarrantyJSON     `json:"warranties"`
	Installments                         loanInstallmentsJSON   `json:"installments"`
	Payments                             loanPaymentsJSON       `json:"payments"`
}

type loanInterestRateJSON struct {
	TaxType                       string   `json:"taxType"`
	InterestRateType              string   `json:"interestRateType"`
	TaxPeriodicity                string   `json:"taxPeriodicity"`
	Calculation                   string   `json:"calculation"`
	ReferentialRateIndexerType    string   `json:"referentialRateIndexerType"`
	ReferentialRateIndexerSubType *string  `json:"referentialRateIndexerSubType"`
	PreFixedRate                  decimal  `json:"preFixedRate"`
	PostFixedRate                 *decimal `json:"postFixedRate"`
	AdditionalInfo                *string  `json:"additionalInfo"`
}

type loanFeeJSON struct {
	Name              string   `json:"name"`
	Code              string   `json:"code"`
	ChargeType        string   `json:"chargeType"`
	ChargeCalculation string   `json:"chargeCalculation"`
	Amount            *money   `json:"amount"`
	Rate              *decimal `json:"rate"`
}

// loanChargeJSON uses chargeRate/chargeAdditionalInfo, the runtime names
// (the schema says otherwise).
type loanChargeJSON struct {
	Type                 string   `json:"type"`
	ChargeAdditionalInfo *string  `json:"chargeAdditionalInfo"`
	ChargeRate           *decimal `json:"chargeRate"`
}

type loanWarrantyJSON struct {
	CurrencyCode string `json:"currencyCode"`
	Type         string `json:"type"`
	Subtype      string `json:"subtype"`
	Amount       money  `json:"amount"`
}

type loanInstallmentsJSON struct {
	TypeNumberOfInstallments  string        `json:"typeNumberOfInstallments"`
	TotalNumberOfInstallments int           `json:"totalNumberOfInstallments"`
	TypeContractRemaining     string        `json:"typeContractRemaining"`
	ContractRemainingNumber   int           `json:"contractRemainingNumber"`
	PaidInstallments          int           `json:"paidInstallments"`
	DueInstallments           int           `json:"dueInstallments"`
	PastDueInstallments       int           `json:"pastDueInstallments"`
	BalloonPayments           []balloonJSON `json:"balloonPayments"`
}

type balloonJSON struct {
	DueDate      string `json:"dueDate"`
	CurrencyCode string `json:"currencyCode"`
	Amount       money  `json:"amount"`
}

type loanPaymentsJSON struct {
	ContractOutstandingBalance money             `json:"contractOutstandingBalance"`
	Releases                   []loanReleaseJSON `json:"releases"`
}

type loanReleaseJSON struct {
	ID                  string  `json:"id"`
	IsOverParcelPayment bool    `json:"isOverParcelPayment"`
	InstallmentID       *string `json:"installmentId"`
	PaidDate            jsTime  `json:"paidDate"`
	CurrencyCode        string  `json:"currencyCode"`
	PaidAmount          money   `json:"paidAmount"`
}

type identityJSON struct {
	ID                string           `json:"id"`
	ItemID            string           `json:"itemId"`
	FullName          string           `json:"fullName"`
	CompanyName       *string          `json:"companyName"`
	Document          string           `json:"document"`
	DocumentType      string           `json:"documentType"`
	TaxNumber         string           `json:"taxNumber"`
	JobTitle          *string          `json:"jobTitle"`
	BirthDate         *jsTime          `json:"birthDate"`
	InvestorProfile   *string          `json:"investorProfile"`
	EstablishmentCode *string          `json:"establishmentCode"`
	EstablishmentName *string          `json:"establishmentName"`
	PhoneNumbers      []typedValueJSON `json:"phoneNumbers"`
	Emails            []typedValueJSON `json:"emails"`
	Addresses         []addressJSON    `json:"addresses"`
	Relations         []relationJSON   `json:"relations"`
	CreatedAt         jsTime           `json:"createdAt"`
	UpdatedAt         jsTime           `json:"updatedAt"`
}

type typedValueJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type addressJSON struct {
	FullAddress    string  `json:"fullAddress"`
	PrimaryAddress string  `json:"primaryAddress"`
	City           string  `json:"city"`
	PostalCode     string  `json:"postalCode"`
	State          string  `json:"state"`
	Country        string  `json:"country"`
	Type           string  `json:"type"`
	AdditionalInfo *string `json:"additionalInfo"`
}

type relationJSON struct {
	Type     string  `json:"type"`
	Name     string  `json:"name"`
	Document *string `json:"document"`
}

type consentJSON struct {
	ID                            string   `json:"id"`
	ItemID                        string   `json:"itemId"`
	Products                      []string `json:"products"`
	OpenFinancePermissionsGranted []string `json:"openFinancePermissionsGranted"`
	CreatedAt                     jsTime   `json:"createdAt"`
	ExpiresAt                     *jsTime  `json:"expiresAt"`
	RevokedAt                     *jsTime  `json:"revokedAt"`
}

// pageJSON is the classic page envelope.
type pageJSON[T any] struct {
	Page       int       `json:"page"`
	Total      pageTotal `json:"total,omitzero"`
	TotalPages int       `json:"totalPages"`
	Results    []T       `json:"results"`
}

// totalAs returns p writing its total as style says (Options.PageTotals).
func (p pageJSON[T]) totalAs(style TotalStyle) pageJSON[T] {
	p.Total.style = style
	return p
}

// pageTotal is a page envelope's `total`: n, written as style says.
type pageTotal struct {
	n     int
	style TotalStyle
}

// IsZero leaves the member out for TotalAbsent (omitzero).
func (t pageTotal) IsZero() bool { return t.style == TotalAbsent }

// MarshalJSON writes n as a number, a string or -1.
func (t pageTotal) MarshalJSON() ([]byte, error) {
	switch t.style {
	case TotalString:
		return []byte(`"` + strconv.Itoa(t.n) + `"`), nil
	case TotalNegative:
		return []byte("-1"), nil
	}
	return strconv.AppendInt(nil, int64(t.n), 10), nil
}

// singlePage wraps a complete list in a one-page envelope. Like the real
// API, an empty list has totalPages 0 (a "while page != totalPages" loop
// never ends on it).
func singlePage[T any](results []T) pageJSON[T] {
	if results == nil {
		results = []T{}
	}
	p := pageJSON[T]{Page: 1, Total: pageTotal{n: len(results)}, TotalPages: 1, Results: results}
	if len(results) == 0 {
		p.TotalPages = 0
	}
	return p
}
