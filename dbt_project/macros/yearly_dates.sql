{# The date in year `y` with the month and day of date `d`; Feb 29 falls on Feb 28 when `y` is not a leap year.
   make_date exists on DuckDB, PostgreSQL and Spark; the integer casts keep PostgreSQL's numeric extract out. #}
{% macro same_day_in_year(d, y) -%}
    make_date(
        cast({{ y }} as integer),
        cast(extract(month from {{ d }}) as integer),
        cast(case
            when extract(month from {{ d }}) = 2 and extract(day from {{ d }}) = 29
                and not ((cast({{ y }} as integer) % 4 = 0 and cast({{ y }} as integer) % 100 != 0)
                         or cast({{ y }} as integer) % 400 = 0)
                then 28
            else extract(day from {{ d }})
        end as integer)
    )
{%- endmacro %}

{# The next yearly recurrence of date `d` (a birthday, an anniversary) on or after `start` (default D). #}
{% macro next_yearly_date(d, start=none) -%}
    {%- set start = start or as_of_date() -%}
    case
        when {{ same_day_in_year(d, 'extract(year from ' ~ start ~ ')') }} >= {{ start }}
            then {{ same_day_in_year(d, 'extract(year from ' ~ start ~ ')') }}
        else {{ same_day_in_year(d, 'extract(year from ' ~ start ~ ') + 1') }}
    end
{%- endmacro %}

{# The Monday of the calendar week (Monday-Sunday) `weeks` weeks after the week of D, as a date. #}
{% macro week_start_after_as_of(weeks) -%}
    {{ dbt.dateadd('day', 7 * (weeks | int), 'cast(' ~ dbt.date_trunc('week', as_of_date()) ~ ' as date)') }}
{%- endmacro %}
