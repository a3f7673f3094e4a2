"""Eco-compensation (生态补偿): money shared out to forest owners to the fen, and the checks of
the identities and bank cards it is paid to. Issue #17 builds valuation, sharing rules and
payment rosters on these."""

from registry.compensation.allocation import FEN, Share, allocate_fen
from registry.compensation.identity import check_bank_card, check_resident_id

__all__ = ["FEN", "Share", "allocate_fen", "check_bank_card", "check_resident_id"]
