"""Helpers of the pcap reader: record walking, vectorised decoding, flow aggregation, nfstream."""
