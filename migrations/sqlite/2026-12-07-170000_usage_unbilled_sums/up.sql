-- My Usage's count and total of a user's unbilled records, per UTC day of the job's end
-- (`ended_at / 86400`) and currency, kept by the store's import, billing and voiding in the same
-- transaction as the records they count (issue 24): a date filter of whole days reads at most a
-- row per day, whatever the number of records.
CREATE TABLE usage_unbilled_sums (
    user_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    currency TEXT NOT NULL,
    records BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    PRIMARY KEY (user_id, day, currency)
);
INSERT INTO usage_unbilled_sums
SELECT user_id, ended_at / 86400, currency, COUNT(*), SUM(cost_minor)
FROM usage_records WHERE receipt_id IS NULL
GROUP BY user_id, ended_at / 86400, currency;
