module github.com/source-pluggy/source-pluggy

go 1.26.8

require (
	github.com/apache/arrow-go/v18 v18.8.0 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	github.com/xitongsys/parquet-go v1.6.2 // indirect
	golang.org/x/text v0.41.0 // indirect
)
