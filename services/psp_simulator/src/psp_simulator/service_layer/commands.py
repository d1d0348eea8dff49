"""Orders the provider takes, already parsed and validated at the edge."""

from dataclasses import dataclass

from psp_simulator.domain.idempotency import fingerprint


@dataclass(frozen=True, slots=True)
class CreateCharge:
    idempotency_key: str
    amount: int
    currency: str
    payment_method: str
    reference: str

    def fingerprint(self) -> str:
        return fingerprint(
            {
                "amount": self.amount,
                "currency": self.currency,
                "payment_method": self.payment_method,
                "reference": self.reference,
            }
        )


@dataclass(frozen=True, slots=True)
class CreateRefund:
    idempotency_key: str
    charge_id: str
    amount: int
    reference: str

    def fingerprint(self) -> str:
        return fingerprint(
            {"charge_id": self.charge_id, "amount": self.amount, "reference": self.reference}
        )


@dataclass(frozen=True, slots=True)
class CreatePayout:
    idempotency_key: str
    batch_id: str
    attempt: int
    merchant_id: str
    amount: int
    currency: str
    bank_account: str

    def fingerprint(self) -> str:
        return fingerprint(
            {
                "batch_id": self.batch_id,
                "attempt": self.attempt,
                "merchant_id": self.merchant_id,
                "amount": self.amount,
                "currency": self.currency,
                "bank_account": self.bank_account,
            }
        )
