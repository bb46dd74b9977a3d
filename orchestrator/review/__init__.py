"""The reviewer: evidence, findings, verdict policy and reports."""
