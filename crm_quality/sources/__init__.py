"""Where CRM data comes from: export folders of CSV or Parquet files."""
