{# The median of `column` over the rows of `relation` (a CTE or model) as a scalar subquery: the mean of the
   middle one or two values, like quantile_cont(0.5), written with window functions so every engine gives the
   same number. In the column's own type: for DECIMAL money the median is exact (half a cent at most more
   digits), so a threshold never depends on the order an engine adds rows in. Nulls are ignored; null when
   there are no rows. #}
{% macro median_of(relation, column) -%}
    (
        select (min(value) + max(value)) * 0.5
        from (
            select
                {{ column }} as value,
                row_number() over (order by {{ column }}) as position,
                count(*) over () as n
            from {{ relation }}
            where {{ column }} is not null
        ) as ranked
        where position in (floor((n + 1) / 2.0), ceil((n + 1) / 2.0))
    )
{%- endmacro %}

{# The sum of a DOUBLE column in fixed point (9 decimals): exact, so the result does not depend on the order
   the engine adds the rows in (a re-run gives the same bytes). #}
{% macro exact_sum(expression) -%}
    sum(cast({{ expression }} as decimal(38, 9)))
{%- endmacro %}
