DROP TABLE usage_unbilled_sums;
