"""The reporting database: schema, migrations, publishing a batch, the BI role."""
