"""Pure checks that stand between a model's tool call and Telnyx: E.164, audit, confirmations, summaries."""
