"""The budget ledger as one PostgreSQL row per scope (a series), so a ``--budget`` holds across
every node: a reservation is one conditional ``UPDATE``, refused when it would overspend."""

from __future__ import annotations

from dataclasses import dataclass

from dramaforge.cluster.pg import connect
from dramaforge.errors import BudgetExceeded
from dramaforge.graph.cost import Ledger


@dataclass
class PgLedger(Ledger):
    """``Ledger`` whose spending lives in ``dramaforge_budget``; ``spent`` mirrors this
    process's share, ``total()`` the scope's."""

    dsn: str = ""
    scope: str = ""

    def open(self) -> PgLedger:
        with connect(self.dsn, role="dramaforge budget") as conn:
            conn.execute(
                "INSERT INTO dramaforge_budget (scope, budget) VALUES (%s, %s) "
                "ON CONFLICT (scope) DO UPDATE SET budget = excluded.budget",
                (self.scope, self.budget),
            )
        return self

    def reserve(self, amount: float, what: str) -> None:
        if amount == 0:
            return
        with connect(self.dsn, role="dramaforge budget") as conn:
            row = conn.execute(
                "UPDATE dramaforge_budget SET spent = spent + %s WHERE scope = %s "
                "AND (budget IS NULL OR spent + %s <= budget + 1e-9) RETURNING spent",
                (amount, self.scope, amount),
            ).fetchone()
            if row is None:
                got = conn.execute(
                    "SELECT spent, budget FROM dramaforge_budget WHERE scope = %s", (self.scope,)
                ).fetchone()
                spent, budget = got if got else (0.0, self.budget or 0.0)
                raise BudgetExceeded(
                    f"{what} would cost {amount:.2f}, {spent:.2f} of the {budget:.2f} budget is "
                    "spent across the cluster; nothing paid for is lost — raise --budget and "
                    "run the same command again"
                )
        with self._lock:
            self.spent += amount

    def settle(self, reserved: float, actual: float) -> None:
        if reserved == actual:
            return
        with connect(self.dsn, role="dramaforge budget") as conn:
            conn.execute(
                "UPDATE dramaforge_budget SET spent = spent + %s WHERE scope = %s",
                (actual - reserved, self.scope),
            )
        with self._lock:
            self.spent += actual - reserved
