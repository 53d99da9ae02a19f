DROP TABLE refund_notes;
