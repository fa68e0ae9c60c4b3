DROP TABLE customer_contacts;
ALTER TABLE merchants DROP COLUMN customer_emails;
