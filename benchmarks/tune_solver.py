"""Which search settings help the product solver on Solomon? Measured, not guessed.

Runs the product solver (``routing.planning.search.driver.solve``) on a subset of Solomon instances once per
configuration; a configuration is ``SolveParams`` fields (strategies, workers, the ruin's
sizes and temperature) plus
overrides of OR-Tools' routing search parameters applied on top of the solver's own
``search_parameters`` (GLS lambda, metaheuristic, LNS operators …). Each solution is judged
by the independent checker; prints mean / median / worst gap per configuration and writes
``benchmarks/out/tune_<S>s.csv``. The overrides are an experiment harness only: settings that
win are reported to the solver's owner to adopt in ``routing/solver.py``.

    .venv/bin/python benchmarks/tune_solver.py [--time-limit 10] [--configs baseline ils …] [--instances R101 …]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SOLOMON = ROOT.parent / "shared" / "benchmarks" / "solomon"
SUBSET = [
    "C104",
    "C109",
    "C204",
    "R101",
    "R104",
    "R107",
    "R110",
    "R203",
    "R207",
    "R211",
    "RC101",
    "RC104",
    "RC107",
    "RC204",
]

LNS_OPERATORS = {
    "local_search_operators.use_cross_exchange": True,
    "local_search_operators.use_relocate_neighbors": True,
    "local_search_operators.use_path_lns": True,
    "local_search_operators.use_inactive_lns": True,
    "local_search_operators.use_global_cheapest_insertion_close_nodes_lns": True,
    "local_search_operators.use_local_cheapest_insertion_close_nodes_lns": True,
}


def ils_sisr(params) -> None:
    """OR-Tools' iterated local search: SISR ruin, cheapest-insertion recreate, automatic SA temperatures."""
    params.use_iterated_local_search = True
    ils = params.iterated_local_search_parameters
    ruin = ils.ruin_recreate_parameters.ruin_strategies.add()
    ruin.sisr.max_removed_sequence_size = 10
    ruin.sisr.avg_num_removed_visits = 10
    ruin.sisr.bypass_factor = 0.01
    ils.reference_solution_acceptance_strategy.simulated_annealing.automatic_temperatures = True


def ils_on_second_worker(params) -> None:
    """GLS from parallel cheapest insertion on one core, ILS (SISR) from path cheapest arc on the other."""
    from ortools.constraint_solver import routing_enums_pb2

    if params.first_solution_strategy == routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC:
        ils_sisr(params)


EXPENSIVE_LNS_OFF = {
    "local_search_operators.use_global_cheapest_insertion_path_lns": False,
    "local_search_operators.use_local_cheapest_insertion_path_lns": False,
    "local_search_operators.use_relocate_path_global_cheapest_insertion_insert_unperformed": False,
    "local_search_operators.use_global_cheapest_insertion_visit_types_lns": False,
    "local_search_operators.use_local_cheapest_insertion_visit_types_lns": False,
}
NEIGHBOURS = {"ls_operator_neighbors_ratio": 0.2, "ls_operator_min_neighbors": 10}
LNS_100MS = {"lns_time_limit.nanos": 100_000_000, "lns_time_limit.seconds": 0}


from routing.planning.search.params import RuinParams  # noqa: E402  (after the sys.path line)

# OR-Tools metaheuristic settings act on "+gls" searches (the GLS era's defaults)
GLS = {"strategies": ("CONSTRUCT_URGENT+gls", "PARALLEL_CHEAPEST_INSERTION+gls")}

# name -> (SolveParams changes, search-parameter overrides: field values or a function of the parameters)
CONFIGS: dict[str, tuple[dict, dict]] = {
    "baseline": ({}, {}),
    "gls": (GLS, {}),
    "ruin_temperature_1": ({"ruin": RuinParams(compiled_start_temperature=1.0)}, {}),
    "ruin_temperature_10": ({"ruin": RuinParams(compiled_start_temperature=10.0)}, {}),
    "ruin_average_20": ({"ruin": RuinParams(average_removed=20)}, {}),
    "ruin_no_route_removal": ({"ruin": RuinParams(route_removal=0.0)}, {}),
    "gls_lambda_0.05": (GLS, {"guided_local_search_lambda_coefficient": 0.05}),
    "gls_lambda_0.3": (GLS, {"guided_local_search_lambda_coefficient": 0.3}),
    "gls_reset_penalties": (GLS, {"guided_local_search_reset_penalties_on_new_best_solution": True}),
    "ils_sisr": (GLS, {"": ils_sisr}),
    "ils_sisr_and_gls": (
        {"strategies": ("PARALLEL_CHEAPEST_INSERTION+gls", "PATH_CHEAPEST_ARC+gls")},
        {"": ils_on_second_worker},
    ),
    "lns_operators": (GLS, LNS_OPERATORS),
    "lci_pci": ({"strategies": ("LOCAL_CHEAPEST_INSERTION+gls", "PARALLEL_CHEAPEST_INSERTION+gls")}, {}),
    "sa": (GLS, {"local_search_metaheuristic": "SIMULATED_ANNEALING"}),
    "tabu": (GLS, {"local_search_metaheuristic": "TABU_SEARCH"}),
    "pci_pca": ({"strategies": ("PARALLEL_CHEAPEST_INSERTION+gls", "PATH_CHEAPEST_ARC+gls")}, {}),
    "lns_100ms": (GLS, LNS_100MS),
    "neighbours_0.2": (GLS, NEIGHBOURS),
    "expensive_lns_off": (GLS, EXPENSIVE_LNS_OFF),
    "lns_100ms_neighbours": (GLS, {**LNS_100MS, **NEIGHBOURS}),
    "pci_pca_lns_100ms": ({"strategies": ("PARALLEL_CHEAPEST_INSERTION+gls", "PATH_CHEAPEST_ARC+gls")}, LNS_100MS),
    "pci_pca_lns_100ms_lns_off": (
        {"strategies": ("PARALLEL_CHEAPEST_INSERTION+gls", "PATH_CHEAPEST_ARC+gls")},
        {**LNS_100MS, **EXPENSIVE_LNS_OFF},
    ),
    "one_worker": ({"workers": 1, "strategies": ("PARALLEL_CHEAPEST_INSERTION+gls",)}, {}),
}


def apply_overrides(params, overrides: dict) -> None:
    from ortools.constraint_solver import routing_enums_pb2

    for dotted, value in overrides.items():
        if callable(value):
            value(params)
            continue
        target = params
        *path, name = dotted.split(".")
        for part in path:
            target = getattr(target, part)
        field = target.DESCRIPTOR.fields_by_name[name]
        if name == "local_search_metaheuristic":
            value = getattr(routing_enums_pb2.LocalSearchMetaheuristic, value)
        elif field.enum_type is not None and field.enum_type.name == "OptionalBoolean":
            value = field.enum_type.values_by_name["BOOL_TRUE" if value else "BOOL_FALSE"].number
        setattr(target, name, value)


def install(overrides: dict) -> None:
    """Wrap the solver's search parameters (inherited by its forked workers)."""
    from routing.planning.search.searcher import Searcher

    original = getattr(Searcher, "_original_search_parameters", Searcher.search_parameters)
    Searcher._original_search_parameters = original

    def patched(self, strategy, time_limit_s):
        params = original(self, strategy, time_limit_s)
        apply_overrides(params, overrides)
        return params

    Searcher.search_parameters = patched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--instances", nargs="*", default=SUBSET)
    parser.add_argument("--csv", default=None, help="output CSV name under benchmarks/out (default tune_<S>s.csv)")
    args = parser.parse_args()

    from routing.bench.runner import run_vrplib, write_rows
    from routing.planning.search.params import SolveParams

    all_rows = []
    for name in args.configs:
        changes, overrides = CONFIGS[name]
        install(overrides)
        settings = replace(SolveParams(), **changes)
        rows = []
        for instance in args.instances:
            row = run_vrplib(SOLOMON / f"{instance}.vrp", time_limit_s=args.time_limit, settings=settings)[0]
            row.solver = name
            rows.append(row)
            gap = "—" if row.gap_pct is None else f"{row.gap_pct:+6.2f} %"
            print(
                f"{name:<22} {instance:<7} gap {gap}  vehicles {row.vehicles:>3}  "
                f"{'feasible' if row.feasible else 'INFEASIBLE ' + row.first_violation}",
                flush=True,
            )
        gaps = [r.gap_pct for r in rows if r.feasible] or [float("nan")]
        print(
            f"== {name}: mean {statistics.fmean(gaps):.2f} %  median {statistics.median(gaps):.2f} %  "
            f"worst {max(gaps):.2f} %  feasible {len(gaps)}/{len(rows)}",
            flush=True,
        )
        all_rows.extend(rows)
        write_rows(ROOT / "benchmarks" / "out" / (args.csv or f"tune_{args.time_limit:g}s.csv"), all_rows)


if __name__ == "__main__":
    main()
