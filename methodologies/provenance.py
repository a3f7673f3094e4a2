"""Provenance: which equation and which parameter values (with source) produced a number.

Every methodology result carries :class:`Trace` objects. Equation ids name the methodology and
the equation; where the official equation number could not be read from the text (see
``shared/reference/methodology_notes.md``) the id says ``number not verified``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from methodologies.parameters import Parameter, unverified

__all__ = ["EQUATIONS", "Equation", "Step", "Trace"]


@dataclass(frozen=True, slots=True)
class Equation:
    id: str
    reference: str  # methodology code + equation number or name
    formula: str
    unit: str
    number_verified: bool = False

    def cite(self) -> str:
        note = "" if self.number_verified else " (equation number not verified)"
        return f"{self.reference}{note}: {self.formula} [{self.unit}]"


EQUATIONS: dict[str, Equation] = {
    e.id: e
    for e in (
        Equation(
            "carbon_stock_trees",
            "AR-CM-001-V01 / AR-CM-003-V01 / CCER-14-001-V01, biomass expansion factor method",
            "C_TREE = 44/12 × CF × V × SVD × BEF × (1 + R)",
            "t CO2e",
        ),
        Equation(
            "stock_difference",
            "CDM A/R stock-difference method (all three methodologies)",
            "ΔC = (C_t2 − C_t1) / (t2 − t1)",
            "t CO2e/yr",
        ),
        Equation(
            "shrub_carbon",
            "AR-TOOL14 v4.1 Eq. 26–27",
            "C_SHRUB = 44/12 × CF_S × (1 + R_S) × A_SHRUB × b_SHRUB; "
            "b_SHRUB = BDR_SF × b_FOREST × CC_SHRUB",
            "t CO2e",
            number_verified=True,
        ),
        Equation(
            "net_removals",
            "CDM A/R structure (all three methodologies)",
            "ΔC_AR = ΔC_ACTUAL − ΔC_BSL − LK;  ΔC_ACTUAL = ΔC_P − GHG_E",
            "t CO2e/yr",
        ),
        Equation(
            "chapman_richards",
            "growth model fitted to the county inventory (Chapman–Richards)",
            "V(t) = a × (1 − exp(−b × t))^c",
            "m³/ha",
            number_verified=True,
        ),
        Equation(
            "tree_volume_two_way",
            "two-way tree volume table (二元立木材积表)",
            "v = a × D^b × H^c",
            "m³/tree",
            number_verified=True,
        ),
        Equation(
            "bamboo_culm_biomass",
            "AR-CM-005-V01 (moso bamboo per-culm biomass model)",
            "M = a × D^b × (c × A / (d + A))^e + f",
            "kg d.m./culm",
        ),
        Equation(
            "bamboo_stand_carbon",
            "AR-CM-005-V01, stand carbon from culms",
            "C_BAMBOO = 44/12 × CF × (1 + R) × N × Σ_A share_A × M(D, A) / 1000 × area",
            "t CO2e",
        ),
        Equation(
            "stratified_mean",
            "stratified random sampling (CDM A/R sample-plot tool)",
            "Ĉ = Σ_h A_h × mean_h;  SE = sqrt(Σ_h A_h² × s_h² / n_h);  U = t(0.95, n − M) × SE / Ĉ",
            "t CO2e",
        ),
        Equation(
            "plots_needed",
            "CDM A/R sample-plot tool, per stratum",
            "n = the fewest n with t(0.95, n−1) × CV / √n ≤ E",
            "plots",
        ),
        Equation(
            "conservative_deduction",
            "AR-TOOL14 Appendix 2 banded discount (rule per methodology: methodology_defaults.csv "
            "uncertainty_deduction_rule[<code>])",
            "U = hw / |Ĉ|;  kept = Ĉ − f(U) × hw,  f = 0 / 0.25 / 0.5 / 0.75 / 1 for "
            "U ≤ 10 / 15 / 20 / 30 / > 30 %",
            "t CO2e",
        ),
        Equation(
            "change_uncertainty_paired",
            "AR-TOOL14 (stock change from permanent plots remeasured; paired differences)",
            "d_i = y₂,i − y₁,i;  ΔĈ = Σ_h A_h d̄_h;  SE = sqrt(Σ_h A_h² s_d,h² / n_h);  "
            "hw = t(0.95, n − M) × SE",
            "t CO2e",
        ),
        Equation(
            "change_uncertainty_independent",
            "AR-TOOL14 (stock change from two independent estimates)",
            "ΔĈ = Ĉ₂ − Ĉ₁;  U_Δ = sqrt((U₁Ĉ₁)² + (U₂Ĉ₂)²) / |Ĉ₂ − Ĉ₁|",
            "t CO2e",
        ),
        Equation(
            "plausibility_gate",
            "registry verification gate (not a methodology equation)",
            "r = ΔC_AR / (A × Δt);  flag if r > ceiling(group) or r ∉ [r_ex-ante / k, k × r_ex-ante]",
            "t CO2e/ha/yr",
        ),
    )
}


@dataclass(frozen=True)
class Step:
    """One equation applied, with the parameter values it used."""

    equation: Equation
    parameters: tuple[Parameter, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "equation": self.equation.id,
            "reference": self.equation.reference,
            "equation_number_verified": self.equation.number_verified,
            "formula": self.equation.formula,
            "unit": self.equation.unit,
            "note": self.note,
            "parameters": [
                {
                    "name": p.name,
                    "value": p.value,
                    "unit": p.unit,
                    "source": p.source,
                    "status": p.status,
                    "verified": p.verified,
                }
                for p in self.parameters
            ],
        }


@dataclass(frozen=True)
class Trace:
    """The chain of equations behind one result (shared by the stands of one stratum)."""

    methodology: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def parameters(self) -> list[Parameter]:
        return [p for s in self.steps for p in s.parameters]

    def unverified(self) -> list[Parameter]:
        return unverified(self.parameters())

    def to_dict(self) -> dict[str, Any]:
        return {
            "methodology": self.methodology,
            "steps": [s.to_dict() for s in self.steps],
            "unverified_parameters": [p.name for p in self.unverified()],
        }

    def explain(self) -> str:
        """The chain in words a verifier reads."""
        lines = [f"方法学 Methodology: {self.methodology}"]  # plain text, no markup
        for i, step in enumerate(self.steps, start=1):
            lines.append(f"{i}. {step.equation.cite()}")
            if step.note:
                lines.append(f"   {step.note}")
            for p in step.parameters:
                lines.append(f"   - {p.describe()}")
        flagged = self.unverified()
        if flagged:
            lines.append(
                f"注意 NOTE: {len(flagged)} 个参数来源未核实 / parameters whose source is "
                "not verified: " + ", ".join(p.name for p in flagged)
            )
        return "\n".join(lines)
