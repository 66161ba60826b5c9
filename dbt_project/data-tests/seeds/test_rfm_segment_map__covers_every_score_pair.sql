{# rfm_segment_map has exactly one row for every (r_score, fm_score) in 1..5 x 1..5 and no row outside that grid:
   returns the missing, duplicated and out-of-range pairs. #}
with

scores as (

    {% for score in range(1, 6) -%}
    select {{ score }} as score
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

score_pairs as (

    select
        r.score as r_score,
        fm.score as fm_score

    from scores as r
    cross join scores as fm

),

segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

rows_per_pair as (

    select
        score_pairs.r_score,
        score_pairs.fm_score,
        count(segment_map.r_score) as n_rows

    from score_pairs
    left join segment_map
        on score_pairs.r_score = segment_map.r_score
        and score_pairs.fm_score = segment_map.fm_score
    group by score_pairs.r_score, score_pairs.fm_score

),

missing_or_duplicated as (

    select
        r_score,
        fm_score,
        n_rows,
        case when n_rows = 0 then 'missing' else 'duplicated' end as problem

    from rows_per_pair
    where n_rows <> 1

),

out_of_range as (

    select
        r_score,
        fm_score,
        1 as n_rows,
        'outside 1..5 x 1..5' as problem

    from segment_map
    where r_score is null
        or fm_score is null
        or r_score not between 1 and 5
        or fm_score not between 1 and 5

),

final as (

    select * from missing_or_duplicated
    union all
    select * from out_of_range

)

select * from final
