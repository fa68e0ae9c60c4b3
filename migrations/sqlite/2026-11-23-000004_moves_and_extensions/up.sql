-- A parcel redirected on the day keeps its pickup code at the new shop. The stored hash is
-- keyed per shop, so the code itself stays sealed with the data key while the parcel waits and
-- is re-keyed to the new shop on a redirect; it is erased at handover. Whoever holds the data
-- key could already recover an 8-digit code from its hash, so this exposes nothing new.
ALTER TABLE parcels ADD COLUMN code_escrow TEXT;
-- Days the merchant extended the holding period by (at most once), or NULL.
ALTER TABLE parcels ADD COLUMN hold_extended_days INTEGER CHECK (hold_extended_days > 0);
